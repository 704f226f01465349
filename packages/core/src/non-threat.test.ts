import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { generateActions } from '@vsh/fixtures';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAction } from './action.ts';
import type { Destination } from './asff.ts';
import { mapAction } from './map.ts';
import { THREAT_SEVERITY_FLOORS } from './risk.ts';
import { safeText } from './sanitize.ts';

/**
 * Hashes of the findings the mapper produced on 2026-12-04, before confirmed threats got a floor and a
 * threat type and before Vaikora's title was used, for every action of a seeded corpus that is not a
 * confirmed threat (with its `title` removed). Frozen: the point is that this mapping never changes.
 */
const golden = JSON.parse(
  readFileSync(new URL('./golden/non-threat-findings.json', import.meta.url), 'utf8'),
) as {
  corpus: Parameters<typeof generateActions>[0];
  hashes: Record<string, string>;
};
const destination: Destination = { accountId: '123456789012', region: 'eu-west-1', partition: 'aws' };
const now = '2026-11-25T00:00:00.000Z';

const hash = (value: unknown): string =>
  createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);

describe('actions that are not confirmed threats map exactly as before', () => {
  it('byte-identical to the frozen findings of a seeded corpus (hostile strings, aliases, wrong types)', () => {
    const mismatched: string[] = [];
    let compared = 0;
    for (const raw of generateActions(golden.corpus)) {
      if (typeof raw !== 'object' || raw === null) throw new Error('the golden corpus holds only objects');
      const { title: _title, ...withoutTitle } = raw as Record<string, unknown>;
      const parsed = parseAction(withoutTitle);
      if (!parsed.ok || parsed.action.threatDetected) continue;
      compared++;
      const expected = golden.hashes[parsed.action.id];
      if (expected !== hash(mapAction(parsed.action, { destination, now })))
        mismatched.push(parsed.action.id);
    }

    expect(compared).toBe(Object.keys(golden.hashes).length);
    expect(mismatched).toEqual([]);
  });

  const nonThreat = fc.record(
    {
      agent_id: fc.string({ maxLength: 40 }),
      action_type: fc.constantFrom('llm.completion', 'data.exfiltration', 'shell.exec', 'prompt_injection'),
      risk_level: fc.constantFrom('low', 'medium', 'high', 'critical', 'bogus'),
      risk_score: fc.double({ min: 0, max: 100, noNaN: true }),
      is_anomaly: fc.boolean(),
      anomaly_reason: fc.string({ maxLength: 60 }),
      threat_detected: fc.constantFrom(false, 'false', 0, undefined),
      threat_score: fc.double({ min: 0, max: 1, noNaN: true }),
      description: fc.string({ maxLength: 200 }),
    },
    { requiredKeys: [] },
  );

  it('the threat floor has no effect on them, whatever it is', () => {
    fc.assert(
      fc.property(nonThreat, fc.constantFrom(...THREAT_SEVERITY_FLOORS), (fields, floor) => {
        const parsed = parseAction({ id: 'p', timestamp: now, ...fields });
        if (!parsed.ok) throw new Error(parsed.rejection.reason);

        const plain = mapAction(parsed.action, { destination, now });
        const floored = mapAction(parsed.action, {
          destination,
          now,
          thresholds: { threatSeverityFloor: floor },
        });

        expect(JSON.stringify(floored)).toBe(JSON.stringify(plain));
      }),
      { numRuns: 500 },
    );
  });

  it("Vaikora's title changes the Title only, and leads it", () => {
    const title = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 400 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.constantFrom(' ', '\u0000', '\u202e', '🤖'.repeat(200)),
    );
    fc.assert(
      fc.property(nonThreat, title, (fields, vaikoraTitle) => {
        const without = parseAction({ id: 'p', timestamp: now, ...fields });
        const withTitle = parseAction({ id: 'p', timestamp: now, ...fields, title: vaikoraTitle });
        if (!without.ok || !withTitle.ok) throw new Error('fixture');

        const before = mapAction(without.action, { destination, now });
        const after = mapAction(withTitle.action, { destination, now });

        expect({ ...after, Title: before.Title }).toEqual(before);
        const lead = safeText(vaikoraTitle, 256);
        expect(after.Title).toBe(lead === '' ? before.Title : safeText(`${lead} — ${before.Title}`, 256));
        expect(after.Title.length).toBeLessThanOrEqual(256);
        expect(after.Title.isWellFormed()).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
