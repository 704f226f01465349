import {
  BatchImportFindingsCommand,
  type BatchImportFindingsCommandInput,
  SecurityHubClient,
} from '@aws-sdk/client-securityhub';
import type { Destination } from '@vsh/core';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { createSecurityHubImporter } from './importer.ts';
import { createRateLimiterRegistry } from './rate-limiter.ts';
import { makeFindings } from './testing/findings.ts';

// BatchImportFindings' 200 answers that do not add up: every finding must be imported once (a re-import
// of an id the hub already holds is billed again) and none may be reported imported when it is not. Both
// failed on d219dae: the first resent the 9 stored findings, the second reported an unstored one imported.

const destination: Destination = { accountId: '111122223333', region: 'eu-west-1', partition: 'aws' };

function setup() {
  const client = new SecurityHubClient({ region: destination.region });
  const mock = mockClient(client);
  const importer = createSecurityHubImporter({
    client,
    destination,
    rateLimiter: createRateLimiterRegistry(),
    sleep: async () => undefined,
  });
  /** Times each id was stored by the hub. */
  const stored = new Map<string, number>();
  return { mock, importer, stored };
}

const idsOf = (input: BatchImportFindingsCommandInput): string[] =>
  (input.Findings ?? []).map((f) => f.Id ?? '');

describe('BatchImportFindings answers whose FailedFindings do not match the batch', () => {
  it('FailedFindings listing one failed id twice (FailedCount 2 = the list) re-imports no finding that was stored', async () => {
    const { mock, importer, stored } = setup();
    const findings = makeFindings({ destination, count: 10, idPrefix: 'twice' });
    const bad = findings[0]?.finding.Id ?? '';
    let first = true;
    mock.on(BatchImportFindingsCommand).callsFake((input: BatchImportFindingsCommandInput) => {
      const ids = idsOf(input);
      const failing = first && ids.includes(bad);
      for (const id of ids) if (!(failing && id === bad)) stored.set(id, (stored.get(id) ?? 0) + 1);
      if (!failing) return { FailedCount: 0, SuccessCount: ids.length, FailedFindings: [] };
      first = false;
      const entry = { Id: bad, ErrorCode: 'InternalFailure', ErrorMessage: 'try again' };
      return { FailedCount: 2, SuccessCount: ids.length - 1, FailedFindings: [entry, entry] };
    });

    const result = await importer.importFindings(findings);

    expect(new Set(result.imported)).toEqual(new Set(findings.map((f) => f.finding.Id)));
    const reimported = [...stored].filter(([, n]) => n > 1).map(([id]) => id);
    expect(reimported).toEqual([]);
  });

  it('a failure listed twice while another finding failed unlisted (SuccessCount short): the unlisted one is not lost', async () => {
    const { mock, importer, stored } = setup();
    const findings = makeFindings({ destination, count: 10, idPrefix: 'twice-short' });
    const listed = findings[0]?.finding.Id ?? '';
    const unlisted = findings[1]?.finding.Id ?? '';
    let first = true;
    mock.on(BatchImportFindingsCommand).callsFake((input: BatchImportFindingsCommandInput) => {
      const ids = idsOf(input);
      if (!first) {
        for (const id of ids) stored.set(id, (stored.get(id) ?? 0) + 1);
        return { FailedCount: 0, SuccessCount: ids.length, FailedFindings: [] };
      }
      first = false;
      for (const id of ids) if (id !== listed && id !== unlisted) stored.set(id, (stored.get(id) ?? 0) + 1);
      const entry = { Id: listed, ErrorCode: 'InternalFailure', ErrorMessage: 'try again' };
      return { FailedCount: 2, SuccessCount: ids.length - 2, FailedFindings: [entry, entry] };
    });

    const result = await importer.importFindings(findings);

    for (const id of result.imported)
      expect(stored.has(id), `${id} reported imported, not stored`).toBe(true);
    expect(stored.has(unlisted)).toBe(true);
  });

  it('FailedFindings naming an id not in the batch does not explain the failure of one that was: it is not reported imported', async () => {
    const { mock, importer, stored } = setup();
    const findings = makeFindings({ destination, count: 3, idPrefix: 'foreign' });
    const lost = findings[1]?.finding.Id ?? '';
    let first = true;
    mock.on(BatchImportFindingsCommand).callsFake((input: BatchImportFindingsCommandInput) => {
      const ids = idsOf(input);
      if (first) {
        first = false;
        // The hub stored two of three and names a failure under an id the caller never sent.
        for (const id of ids) if (id !== lost) stored.set(id, (stored.get(id) ?? 0) + 1);
        return {
          FailedCount: 1,
          SuccessCount: 2,
          FailedFindings: [
            { Id: 'vaikora-not-in-this-batch', ErrorCode: 'InternalFailure', ErrorMessage: 'x' },
          ],
        };
      }
      for (const id of ids) stored.set(id, (stored.get(id) ?? 0) + 1);
      return { FailedCount: 0, SuccessCount: ids.length, FailedFindings: [] };
    });

    const result = await importer.importFindings(findings);

    // Reported imported only if the hub has it.
    for (const id of result.imported)
      expect(stored.has(id), `${id} reported imported, not stored`).toBe(true);
  });
});
