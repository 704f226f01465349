import { readFileSync } from 'node:fs';
import {
  EXTREME_STRINGS,
  generateActions,
  HOSTILE_FIELDS,
  HOSTILE_STRINGS,
  hugeString,
  ocsfSchema,
} from '@vsh/fixtures';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAction, type VaikoraAction } from './action.ts';
import { type Destination, findingId } from './asff.ts';
import { mapAction } from './map.ts';
import { OCSF_DETECTION_FINDING, OCSF_VERSION, toOcsfDetectionFinding } from './ocsf.ts';
import { compileOcsfClass } from './ocsf-schema.test-support.ts';

const checker = compileOcsfClass(ocsfSchema(), 'detection_finding');
const destination: Destination = { accountId: '123456789012', region: 'eu-west-1', partition: 'aws' };
const now = '2026-11-25T00:00:00.000Z';

function action(fields: Record<string, unknown>): VaikoraAction {
  const result = parseAction({ id: 'act-7', timestamp: '2026-11-01T00:00:00Z', ...fields });
  if (!result.ok) throw new Error(result.rejection.reason);
  return result.action;
}

/** Strings map.ts's loose IPv6 pattern lets through to ASFF that are no IP address (or too long for ip_t). */
const ODD_ADDRESSES = [
  ':::',
  '1:2:3:4:5:6:7:8:9',
  `${'ff:'.repeat(14)}ff`,
  '0000:0000:0000:0000:0000:ffff:255.255.255.255',
];

/**
 * The corpora the ASFF mapper is held to: the golden corpus (non-threat.test.ts, here with its threats
 * and titles), the conformance corpus (test/conformance.test.ts) with every hostile string in every
 * field, and a corpus of storage-breaking strings (U+0000, lone surrogates, a 300 KB string).
 */
function corpus(): unknown[] {
  const golden = JSON.parse(
    readFileSync(new URL('./golden/non-threat-findings.json', import.meta.url), 'utf8'),
  ) as {
    corpus: Parameters<typeof generateActions>[0];
  };
  const targeted: unknown[] = [];
  let n = 0;
  for (const field of HOSTILE_FIELDS) {
    for (const hostile of [...HOSTILE_STRINGS, ...EXTREME_STRINGS, ...ODD_ADDRESSES]) {
      targeted.push({
        id: `hostile-${n++}`,
        timestamp: '2026-11-01T00:00:00Z',
        risk_score: 95,
        is_anomaly: true,
        threat_detected: true,
        [field]: hostile,
      });
    }
  }
  return [
    ...generateActions(golden.corpus),
    ...generateActions({
      seed: 2026,
      count: 1500,
      hostileRate: 0.3,
      badRate: 0.1,
      aliasRate: 0.2,
      wrongTypeRate: 0.2,
      burstRate: 0.1,
    }),
    ...generateActions({ seed: 15, count: 200, extremeRate: 0.5, hugeStringBytes: 300_000, idPrefix: 'x-' }),
    ...targeted,
  ];
}

describe('toOcsfDetectionFinding: the core corpus against the vendored OCSF 1.6.0 schema', () => {
  it('maps every parsable action of the corpus to a valid Detection Finding (valid N/N)', () => {
    const actions = corpus().flatMap((raw) => {
      const parsed = parseAction(raw);
      return parsed.ok ? [parsed.action] : [];
    });
    const invalid: string[] = [];
    for (const a of actions) {
      const errors = checker.check(toOcsfDetectionFinding(a, { destination, now, productVersion: '1.0.0' }));
      if (errors.length > 0) invalid.push(`${a.id.slice(0, 40)}: ${errors.join('; ')}`);
    }
    const valid = actions.length - invalid.length;
    console.info(`OCSF 1.6.0 Detection Finding: valid ${valid}/${actions.length}`);

    expect(actions.length).toBeGreaterThan(2000);
    expect(invalid.slice(0, 5)).toEqual([]);
    expect(`valid ${valid}/${actions.length}`).toBe(`valid ${actions.length}/${actions.length}`);
  });

  it('never throws and is always valid for arbitrary well-formed actions with hostile fields', () => {
    const hostile = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.constantFrom(
        ...HOSTILE_STRINGS,
        ...EXTREME_STRINGS,
        ...ODD_ADDRESSES,
        '::',
        '1.2.3.4',
        'fe80::1%eth0',
        '::ffff:1.2.3.4',
      ),
    );
    const anything = fc.oneof(hostile, fc.double(), fc.integer(), fc.boolean(), fc.constant(null));
    const raw = fc.record(
      Object.fromEntries(
        HOSTILE_FIELDS.filter((f) => f !== 'id' && f !== 'timestamp').map((f) => [f, anything]),
      ),
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(raw, fc.boolean(), fc.double({ min: 0, max: 1, noNaN: true }), (fields, threat, score) => {
        const parsed = parseAction({
          ...fields,
          id: 'p-1',
          timestamp: '2026-11-01T00:00:00Z',
          threat_detected: threat,
          threat_score: score,
        });
        if (!parsed.ok) return;

        expect(checker.check(toOcsfDetectionFinding(parsed.action, { destination, now }))).toEqual([]);
      }),
      { numRuns: 500 },
    );
    // Hostile values reach 100 KB each: the timeout is generous for a loaded machine (a run takes ~1 s).
  }, 20_000);
});

describe('toOcsfDetectionFinding: the same finding as the ASFF mapper', () => {
  it('classifies as a Detection Finding, Create, OCSF 1.6.0, by Vaikora / Data443', () => {
    const f = toOcsfDetectionFinding(action({ risk_level: 'high' }), {
      destination,
      now,
      productVersion: '2.3.4',
    });

    expect(f).toMatchObject({
      class_uid: 2004,
      category_uid: 2,
      activity_id: 1,
      type_uid: 200401,
      type_name: 'Detection Finding: Create',
      time: Date.parse('2026-11-01T00:00:00Z'),
      metadata: {
        version: '1.6.0',
        product: { name: 'Vaikora AI Agent Security', vendor_name: 'Data443', version: '2.3.4' },
      },
    });
    expect(OCSF_VERSION).toBe(ocsfSchema().version);
    expect(OCSF_DETECTION_FINDING.classUid).toBe(checker.classUid);
    expect(OCSF_DETECTION_FINDING.typeUid).toBe(checker.classUid * 100 + OCSF_DETECTION_FINDING.activityId);
  });

  it('uses the ASFF finding id as finding_info.uid', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_.:/-]{1,64}$/), (id) => {
        const a = action({ id });

        const f = toOcsfDetectionFinding(a, { destination, now });

        expect(f.finding_info.uid).toBe(mapAction(a, { destination, now }).Id);
        expect(f.finding_info.uid).toBe(findingId(id));
      }),
    );
  });

  it.each([
    [{ risk_score: 0 }, 'INFORMATIONAL', 1, 'Informational'],
    [{ risk_level: 'low' }, 'LOW', 2, 'Low'],
    [{ risk_score: 55 }, 'MEDIUM', 3, 'Medium'],
    [{ risk_level: 'high', risk_score: 80 }, 'HIGH', 4, 'High'],
    [{ severity: 'critical' }, 'CRITICAL', 5, 'Critical'],
    [{ threat_detected: true }, 'HIGH', 4, 'High'],
    [{ is_anomaly: true }, 'MEDIUM', 3, 'Medium'],
  ])('severity of %o follows the ASFF label %s: severity_id %i (%s)', (fields, label, id, caption) => {
    const a = action(fields);

    const f = toOcsfDetectionFinding(a, { destination, now });

    expect(mapAction(a, { destination, now }).Severity.Label).toBe(label);
    expect([f.severity_id, f.severity]).toEqual([id, caption]);
  });

  it('a confirmed low-risk threat is raised to the tenant’s floor, and says so in unmapped', () => {
    const a = action({ risk_level: 'low', risk_score: 12, threat_detected: true, threat_score: 0.9 });

    const byDefault = toOcsfDetectionFinding(a, { destination, now });
    const critical = toOcsfDetectionFinding(a, {
      destination,
      now,
      thresholds: { threatSeverityFloor: 'CRITICAL' },
    });

    expect([byDefault.severity_id, byDefault.severity]).toEqual([4, 'High']);
    expect(byDefault.unmapped.vaikora.severity_floor).toBe('HIGH');
    expect([critical.severity_id, critical.severity]).toEqual([5, 'Critical']);
    // Vaikora's own risk stays what it said.
    expect([critical.risk_score, critical.risk_level_id, critical.risk_level]).toEqual([12, 1, 'Low']);
    expect([critical.confidence_score, critical.confidence_id, critical.confidence]).toEqual([90, 3, 'High']);
  });

  it('carries the agent, the action and its network facts in the attributes OCSF defines', () => {
    const a = action({
      agent_id: 'agt-sql',
      action_type: 'database.write',
      resource_type: 'table',
      resource_id: 'customers',
      user_name: 'alice',
      source_ip: '10.0.0.5',
      destination_host: 'db.example.com',
      url: 'https://db.example.com/q',
      policy_id: 'pol-3',
      policy_decision: 'block',
      process_name: 'psql',
    });

    const f = toOcsfDetectionFinding(a, { destination, now });

    expect(f.resources).toEqual([
      {
        type: 'AI Agent',
        uid: 'vaikora:agent/agt-sql',
        name: 'agt-sql',
        data: { partition: 'aws', region: 'eu-west-1' },
      },
      {
        type: 'AwsAccount',
        uid: 'AWS::::Account:123456789012',
        data: { partition: 'aws', region: 'eu-west-1' },
      },
    ]);
    expect(f.evidences).toEqual([
      {
        actor: { app_name: 'agt-sql', app_uid: 'agt-sql', user: { name: 'alice' } },
        name: 'database.write',
        resources: [{ type: 'table', uid: 'customers' }],
        src_endpoint: { ip: '10.0.0.5' },
        dst_endpoint: { hostname: 'db.example.com' },
        url: { url_string: 'https://db.example.com/q' },
      },
    ]);
    expect(f.finding_info.analytic).toEqual({
      type_id: 1,
      type: 'Rule',
      name: 'vaikora/policy/pol-3',
      uid: 'pol-3',
    });
    expect(f.unmapped.vaikora).toMatchObject({
      policy_decision: 'block',
      process_name: 'psql',
      action_id: 'act-7',
    });
    expect(f.message).toBe(mapAction(a, { destination, now }).Title);
  });

  it.each(ODD_ADDRESSES)(
    'leaves %s out of the endpoints, as the ASFF mapping does: OCSF ip_t would refuse it',
    (address) => {
      const a = action({ source_ip: address, destination_ip: address, destination_host: 'api.example.com' });

      const f = toOcsfDetectionFinding(a, { destination, now });

      // ASFF keeps a real IPv6 address however long its text (up to 45 characters); OCSF's ip_t is shorter.
      const real = address === '0000:0000:0000:0000:0000:ffff:255.255.255.255';
      expect(mapAction(a, { destination, now }).Network?.SourceIpV6).toBe(real ? address : undefined);
      expect(f.evidences[0]?.src_endpoint).toBeUndefined();
      expect(f.evidences[0]?.dst_endpoint).toEqual({ hostname: 'api.example.com' });
      expect(checker.check(f)).toEqual([]);
    },
  );

  it('keeps hostile strings (NUL, bidi, a 300 KB value) sanitized, bounded and valid', () => {
    const a = action({
      agent_id: `agent\u0000${hugeString(300_000)}`,
      title: '\u202eevil\u0000',
      description: hugeString(300_000),
      user_name: '\u0000',
      url: `https://x.example/${hugeString(300_000)}`,
    });

    const f = toOcsfDetectionFinding(a, { destination, now });
    const json = JSON.stringify(f);

    expect(checker.check(f)).toEqual([]);
    expect(json).not.toMatch(/\\u0000|\u202e/);
    expect(json.length).toBeLessThan(32 * 1024);
    expect(f.evidences[0]?.actor.user).toBeUndefined();
  });
});
