import { describe, expect, it } from 'vitest';
import { type RunOutcome, runStatus } from './run-ledger.ts';

describe('runStatus', () => {
  const run = (over: Partial<RunOutcome>): RunOutcome => ({
    error: false,
    incomplete: false,
    actionsRead: 10,
    findingsImported: 4,
    destinations: new Set(['d1', 'd2']),
    failedDestinations: new Set(),
    ...over,
  });

  it.each<[string, Partial<RunOutcome>, 'ok' | 'partial' | 'failed']>([
    ['finished without an error', {}, 'ok'],
    ['finished with nothing to do', { actionsRead: 0, findingsImported: 0 }, 'ok'],
    [
      'one of two destinations failed, the other received findings',
      { error: true, failedDestinations: new Set(['d1']) },
      'partial',
    ],
    [
      'one of two failed, the other had nothing to receive',
      { error: true, findingsImported: 0, failedDestinations: new Set(['d1']) },
      'partial',
    ],
    [
      'every destination failed after actions were read',
      { error: true, findingsImported: 0, failedDestinations: new Set(['d1', 'd2']) },
      'failed',
    ],
    ['Vaikora refused the key: nothing read', { error: true, actionsRead: 0, findingsImported: 0 }, 'failed'],
    [
      'no runnable destination',
      { error: true, actionsRead: 0, findingsImported: 0, destinations: new Set() },
      'failed',
    ],
    ['stopped by shutdown after some findings', { incomplete: true }, 'partial'],
    ['stopped by shutdown before anything was sent', { incomplete: true, findingsImported: 0 }, 'partial'],
    ['a page could not be read after findings were sent', { error: true, incomplete: true }, 'partial'],
  ])('%s', (_name, over, expected) => {
    expect(runStatus(run(over))).toBe(expected);
  });
});
