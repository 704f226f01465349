import type {
  BatchImportFindingsCommand,
  BatchImportFindingsCommandOutput,
  SecurityHubClient,
} from '@aws-sdk/client-securityhub';
import { createRateLimiterRegistry, createSecurityHubImporter } from '@vsh/aws';
import { pino } from 'pino';
import { createWorkerMetrics } from '../src/metrics.ts';
import { DEFAULT_RUN_OPTIONS, type FindingImporter, type RunDeps } from '../src/ports.ts';

/** What the hub answers one call: the finding ids it fails (InternalFailure), or an error it throws. */
export type HubAnswer = (ids: string[], call: number) => { fail?: string[]; throw?: Error } | undefined;

/**
 * A Security Hub in one region that counts what it stored per finding id (a second import of an id is
 * billed again, so it counts as a duplicate), behind the real importer. `answer` may fail a call or
 * some findings in it; by default it takes everything.
 */
export function countingHub(region = 'us-east-1') {
  const stored = new Map<string, number>();
  let sends = new Map<string, number>();
  let calls = 0;
  let answer: HubAnswer = () => undefined;
  const client = {
    send: async (command: BatchImportFindingsCommand): Promise<BatchImportFindingsCommandOutput> => {
      const ids = (command.input.Findings ?? []).map((f) => f.Id ?? '');
      for (const id of ids) sends.set(id, (sends.get(id) ?? 0) + 1);
      const a = answer(ids, ++calls);
      if (a?.throw) throw a.throw;
      const fail = new Set(a?.fail ?? []);
      for (const id of ids) if (!fail.has(id)) stored.set(id, (stored.get(id) ?? 0) + 1);
      return {
        $metadata: { httpStatusCode: 200 },
        FailedCount: fail.size,
        SuccessCount: ids.length - fail.size,
        FailedFindings: [...fail].map((Id) => ({ Id, ErrorCode: 'InternalFailure', ErrorMessage: 'x' })),
      };
    },
  } as unknown as SecurityHubClient;
  const importer: FindingImporter = createSecurityHubImporter({
    client,
    destination: { accountId: '111111111111', region, partition: 'aws' },
    rateLimiter: createRateLimiterRegistry(),
    sleep: async () => undefined,
  });
  return {
    importer,
    stored,
    /** How often the finding of action `id` was sent (stored or not) since the last `answer`. */
    sends: (id: string) => sends.get(`vaikora-${id}`) ?? 0,
    /** Sets how the hub answers from now on (and starts counting calls and sends again). */
    answer(a: HubAnswer) {
      answer = a;
      calls = 0;
      sends = new Map();
    },
    /** Fails, on every try, the finding ids `refuse` names. */
    refuse(refuse: (ids: string[]) => string[]) {
      this.answer((ids) => ({ fail: refuse(ids) }));
    },
    /** Ids imported more than once. */
    duplicates: () => [...stored].filter(([, n]) => n > 1).length,
  };
}

/** A run's dependencies for unit tests: silent logs, fresh metrics, the default options unless given. */
export function testRunDeps(
  deps: Pick<RunDeps, 'store' | 'state' | 'vaikora' | 'importer' | 'clock'> & Partial<RunDeps>,
): RunDeps {
  return {
    logger: pino({ level: 'silent' }),
    metrics: createWorkerMetrics(),
    workerId: 'probe',
    options: DEFAULT_RUN_OPTIONS,
    ...deps,
  };
}

/**
 * An importer that takes every finding and counts its imports by finding id (a second import of an id
 * is billed again): what the quiet-run tests check exactly-once with.
 */
export function countingImporter() {
  const imports = new Map<string, number>();
  const importer: FindingImporter = {
    importFindings: async (items) => {
      for (const p of items) imports.set(p.finding.Id, (imports.get(p.finding.Id) ?? 0) + 1);
      return { imported: items.map((p) => p.finding.Id), rejected: [], stats: { throttled: 0 } };
    },
  };
  return { importer, imports };
}
