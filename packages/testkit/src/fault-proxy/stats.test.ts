import { describe, expect, it } from 'vitest';
import { emptyOperationStats, StatsRecorder } from './stats.ts';
import type { RequestInfo } from './wire.ts';

const HUB = '123456789012/eu-west-1';
const info: RequestInfo = {
  service: 'securityhub',
  operation: 'BatchImportFindings',
  region: 'eu-west-1',
  accessKeyId: undefined,
  protocol: 'rest-json',
};

describe('StatsRecorder', () => {
  it('counts per operation and hands out copies', () => {
    const stats = new StatsRecorder();

    stats.forRequest(info).requests++;
    stats.forRequest(info).throttled++;
    const copy = stats.operation('securityhub', 'BatchImportFindings');
    copy.requests = 99;

    expect(stats.operation('securityhub', 'BatchImportFindings')).toMatchObject({
      requests: 1,
      throttled: 1,
    });
    expect(stats.operation('sts', 'AssumeRole')).toEqual(emptyOperationStats());
    expect(stats.snapshot().operations.securityhub?.BatchImportFindings?.requests).toBe(1);
  });

  it('counts entries sent again only after Security Hub accepted the id', () => {
    const stats = new StatsRecorder();

    stats.countEntries(HUB, [{ Id: 'a' }, { Id: 'b' }, { nope: 1 }, 'junk']);
    stats.recordImport(HUB, 2, 1, ['a']);
    stats.countEntries(HUB, [{ Id: 'a' }, { Id: 'b' }]);
    stats.countEntries(HUB, 'not a list');

    expect(stats.snapshot().findingEntries[HUB]).toEqual({
      a: { sent: 2, afterAccepted: 1 },
      b: { sent: 2, afterAccepted: 0 },
    });
  });

  it('counts distinct ids and re-imports per account and region', () => {
    const stats = new StatsRecorder();

    stats.recordImport(HUB, 3, 0, ['a', 'b', 'c']);
    stats.recordImport(HUB, 3, 1, ['b', 'd']);

    expect(stats.snapshot().securityHub[HUB]).toEqual({
      importRequests: 2,
      findingsReceived: 6,
      distinctIds: 4,
      reimports: 1,
      failedFindings: 1,
    });
  });

  it('forgets the counters on reset but not which ids Security Hub accepted', () => {
    const stats = new StatsRecorder();
    stats.forRequest(info).requests++;
    stats.recordImport(HUB, 1, 0, ['a']);

    stats.reset();
    stats.countEntries(HUB, [{ Id: 'a' }]);

    expect(stats.snapshot()).toEqual({
      operations: {},
      securityHub: {},
      findingEntries: { [HUB]: { a: { sent: 1, afterAccepted: 1 } } },
    });
  });
});
