import { describe, expect, it } from 'vitest';
import { parseAction, type VaikoraAction } from './action.ts';
import { GENERIC_THREAT_TYPE, THREAT_TYPES, threatTypesFor } from './threat.ts';

function action(fields: Record<string, unknown>): VaikoraAction {
  const result = parseAction({
    id: 'act-t',
    timestamp: '2026-11-01T00:00:00Z',
    threat_detected: true,
    ...fields,
  });
  if (!result.ok) throw new Error(result.rejection.reason);
  return result.action;
}

describe('threatTypesFor: the ASFF type of a confirmed threat', () => {
  it.each([
    [{ action_type: 'llm.completion', anomaly_reason: 'prompt injection in tool output' }, 'promptInjection'],
    [{ title: 'Indirect Prompt-Injection attempt' }, 'promptInjection'],
    [{ action_type: 'security.prompt_injection' }, 'promptInjection'],
    [{ title: 'Jailbreak attempt (DAN)' }, 'jailbreak'],
    [{ action_type: 'data.exfiltration' }, 'exfiltration'],
    [{ anomaly_reason: 'possible data leak to paste site' }, 'exfiltration'],
    [{ title: 'Agent tried to read the API key' }, 'credentialAccess'],
    [{ anomaly_reason: 'credential harvesting' }, 'credentialAccess'],
    [{ title: 'Privilege escalation via tool call' }, 'privilegeEscalation'],
    [{ action_type: 'shell.exec' }, 'codeExecution'],
    [{ title: 'Remote code execution through plugin' }, 'codeExecution'],
    [{ title: 'PII sent to an external endpoint' }, 'sensitiveData'],
  ] as const)('%j → %s', (fields, key) => {
    expect(threatTypesFor(action(fields))).toEqual([THREAT_TYPES[key]]);
  });

  it('names every technique the hints show, once each, in a fixed order', () => {
    const types = threatTypesFor(
      action({
        action_type: 'http.post',
        anomaly_reason: 'exfiltration after prompt injection; more exfiltration',
        title: 'Prompt injection',
      }),
    );

    expect(types).toEqual([THREAT_TYPES.promptInjection, THREAT_TYPES.exfiltration]);
  });

  it('falls back to the generic threat type when nothing hints at a technique', () => {
    expect(threatTypesFor(action({ action_type: 'database.write' }))).toEqual([GENERIC_THREAT_TYPE]);
    expect(threatTypesFor(action({}))).toEqual([GENERIC_THREAT_TYPE]);
  });

  it('gives nothing for an action that is not a confirmed threat, whatever its text says', () => {
    expect(threatTypesFor(action({ threat_detected: false, title: 'prompt injection' }))).toEqual([]);
  });

  it('reads only the start of a huge hostile field (a hint 10 kB in does not count)', () => {
    expect(threatTypesFor(action({ title: `${'x'.repeat(10_000)} jailbreak` }))).toEqual([
      GENERIC_THREAT_TYPE,
    ]);
  });

  it('every type is a valid ASFF type: a known namespace, at most 256 characters', () => {
    const namespaces = [
      'Software and Configuration Checks',
      'TTPs',
      'Effects',
      'Unusual Behaviors',
      'Sensitive Data Identifications',
    ];
    for (const type of [...Object.values(THREAT_TYPES), GENERIC_THREAT_TYPE]) {
      expect(namespaces).toContain(type.split('/')[0]);
      expect(type.length).toBeLessThanOrEqual(256);
    }
  });
});
