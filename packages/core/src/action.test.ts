import { describe, expect, it } from 'vitest';
import { MAX_ACTION_ID_LENGTH, parseAction, parseTimestamp } from './action.ts';

const base = { id: 'act-1', timestamp: '2026-11-01T12:00:00Z' };

function ok(raw: unknown) {
  const result = parseAction(raw);
  if (!result.ok) throw new Error(`expected ok, got ${result.rejection.reason}`);
  return result.action;
}

describe('parseAction', () => {
  it('reads every documented field', () => {
    const action = ok({
      ...base,
      agent_id: 'agt-1',
      action_type: 'database.write',
      resource_type: 'table',
      resource_id: 'users',
      status: 'completed',
      risk_level: 'high',
      risk_score: 82.5,
      policy_id: 'pol-9',
      policy_decision: 'block',
      is_anomaly: true,
      anomaly_score: 3.2,
      anomaly_reason: 'volume',
      threat_detected: true,
      threat_score: 0.91,
      log_hash: 'ab'.repeat(16),
      ip_address: '10.0.0.1',
      target_ip: '203.0.113.9',
      target_url: 'https://x.example.com',
      user_name: 'alice',
      process_name: 'python3',
      file_path: '/tmp/x',
      confidence_score: 80,
    });

    expect(action).toMatchObject({
      id: 'act-1',
      timestamp: '2026-11-01T12:00:00.000Z',
      agentId: 'agt-1',
      actionType: 'database.write',
      riskLevel: 'high',
      riskLevelSource: 'risk_level',
      riskScore: 82.5,
      policyDecision: 'block',
      isAnomaly: true,
      threatDetected: true,
      threatScore: 0.91,
      sourceIp: '10.0.0.1',
      destinationIp: '203.0.113.9',
      url: 'https://x.example.com',
      warnings: [],
    });
  });

  it.each([
    ['severity alias', { severity: 'Critical' }, 'critical', 'severity'],
    ['risk_level wins over severity', { risk_level: 'low', severity: 'critical' }, 'low', 'risk_level'],
    ['derived from score 90', { risk_score: 90 }, 'critical', 'risk_score'],
    ['derived from score 89.9', { risk_score: 89.9 }, 'high', 'risk_score'],
    ['derived from score 70', { risk_score: 70 }, 'high', 'risk_score'],
    ['derived from score 40', { risk_score: '40' }, 'medium', 'risk_score'],
    ['derived from score 0', { risk_score: 0 }, 'low', 'risk_score'],
    ['unknown level falls back to score', { risk_level: 'SEVERE', risk_score: 75 }, 'high', 'risk_score'],
    ['nothing', {}, undefined, 'none'],
  ])('risk level: %s', (_name, fields, level, source) => {
    const action = ok({ ...base, ...fields });

    expect(action.riskLevel).toBe(level);
    expect(action.riskLevelSource).toBe(source);
  });

  it('accepts numbers and booleans that arrive as strings', () => {
    const action = ok({
      ...base,
      risk_score: ' 77.5 ',
      is_anomaly: 'TRUE',
      threat_detected: 1,
      threat_score: '0.5',
    });

    expect(action.riskScore).toBe(77.5);
    expect(action.isAnomaly).toBe(true);
    expect(action.threatDetected).toBe(true);
    expect(action.threatScore).toBe(0.5);
  });

  it('drops unusable optional fields with a warning instead of rejecting the record', () => {
    const action = ok({
      ...base,
      risk_score: 'very high',
      threat_score: 7,
      is_anomaly: 'maybe',
      agent_id: { x: 1 },
    });

    expect(action.riskScore).toBeUndefined();
    expect(action.threatScore).toBeUndefined();
    expect(action.isAnomaly).toBe(false);
    expect(action.agentId).toBeUndefined();
    expect(action.warnings).toHaveLength(4);
  });

  it('keeps unknown fields', () => {
    const action = ok({ ...base, model: 'gpt-x', tokens: { in: 3 } });

    expect(action.extra).toEqual({ model: 'gpt-x', tokens: { in: 3 } });
  });

  it('keeps an unknown "__proto__" field as data, never as the prototype of what it is kept in', () => {
    const raw: unknown = JSON.parse(
      `{"id":"p-1","timestamp":"2026-01-02T03:04:05Z","__proto__":{"polluted":true}}`,
    );
    const parsed = parseAction(raw);
    if (!parsed.ok) throw new Error(parsed.rejection.reason);

    expect(Object.getPrototypeOf(parsed.action.extra)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(parsed.action.extra, '__proto__')?.value).toEqual({
      polluted: true,
    });
    expect((parsed.action.extra as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('accepts a numeric id as its decimal string', () => {
    expect(ok({ ...base, id: 12345 }).id).toBe('12345');
  });

  it.each([
    ['not an object', 'text', 'MALFORMED_RECORD'],
    ['null', null, 'MALFORMED_RECORD'],
    ['an array', [base], 'MALFORMED_RECORD'],
    ['no id', { timestamp: base.timestamp }, 'MISSING_ID'],
    ['empty id', { ...base, id: '  ' }, 'INVALID_ID'],
    ['object id', { ...base, id: { a: 1 } }, 'INVALID_ID'],
    ['id with newline', { ...base, id: 'a\nb' }, 'INVALID_ID'],
    ['id too long', { ...base, id: 'x'.repeat(MAX_ACTION_ID_LENGTH + 1) }, 'INVALID_ID'],
    ['no timestamp', { id: 'a' }, 'MISSING_TIMESTAMP'],
    ['word timestamp', { ...base, timestamp: 'yesterday' }, 'INVALID_TIMESTAMP'],
    ['impossible date', { ...base, timestamp: '2026-02-30T00:00:00Z' }, 'INVALID_TIMESTAMP'],
    ['boolean timestamp', { ...base, timestamp: true }, 'INVALID_TIMESTAMP'],
  ])('rejects a record with %s, with a reason', (_name, raw, code) => {
    const result = parseAction(raw);

    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.rejection.code).toBe(code);
      expect(result.rejection.stage).toBe('parse');
      expect(result.rejection.reason).not.toBe('');
      expect(result.rejection.raw).toEqual(raw);
    }
  });

  it('accepts an id of exactly the longest length', () => {
    expect(parseAction({ ...base, id: 'x'.repeat(MAX_ACTION_ID_LENGTH) }).ok).toBe(true);
  });
});

describe('parseTimestamp', () => {
  it.each([
    ['2026-11-01T12:00:00Z', Date.UTC(2026, 10, 1, 12)],
    ['2026-11-01T12:00:00.123456Z', Date.UTC(2026, 10, 1, 12, 0, 0, 123)],
    ['2026-11-01T14:00:00+02:00', Date.UTC(2026, 10, 1, 12)],
    ['2026-11-01T14:00:00+0200', Date.UTC(2026, 10, 1, 12)],
    ['2026-11-01 12:00:00', Date.UTC(2026, 10, 1, 12)],
    ['2026-11-01', Date.UTC(2026, 10, 1)],
    [1793534400, 1793534400000],
    [1793534400123, 1793534400123],
    ['1793534400', 1793534400000],
  ])('%s', (input, expected) => {
    expect(parseTimestamp(input)).toBe(expected);
  });

  it.each([['nope'], [''], [Number.NaN], [-1e15], ['10000-01-01T00:00:00Z'], [{}]])('refuses %s', (input) => {
    expect(typeof parseTimestamp(input)).toBe('string');
  });
});
