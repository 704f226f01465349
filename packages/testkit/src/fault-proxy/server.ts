/**
 * The fault proxy's HTTP server: reads each exchange, asks the fault plan which fault it meets,
 * carries it out (delay, reset, hold, 429, 5xx, failed findings), answers from the memory Security
 * Hub or forwards to the upstream, and counts what happened. See docs/adr/0010-fault-injecting-proxy.md.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Exchange, readBody, relay, send } from './exchange.ts';
import { FaultPlan, type FaultRules, rulesSchema } from './faults.ts';
import { externalIdDenial } from './iam.ts';
import {
  FaultProxyError,
  type FaultProxyOptions,
  type Options,
  optionsSchema,
  parseOrThrow,
} from './options.ts';
import {
  type AsffFinding,
  type ImportFailure,
  importRefusal,
  partnerProductArn,
  SecurityHubStore,
} from './securityhub-store.ts';
import { SqsStore } from './sqs-store.ts';
import { type FaultProxyStats, type OperationStats, StatsRecorder } from './stats.ts';
import { Upstream, type UpstreamResponse } from './upstream.ts';
import {
  awsErrorResponse,
  classifyRequest,
  copyHeaders,
  isRecord,
  jsonResponse,
  parseJson,
  serverErrorResponse,
} from './wire.ts';

export interface FaultProxy {
  endpoint: string;
  port: number;
  /** Replaces every rule (validated); token buckets, random streams and `times` budgets restart. */
  setRules(rules: FaultRules): void;
  stats(): FaultProxyStats;
  /** Counters for one operation (zeros when it was never seen). */
  operationStats(service: string, operation: string): OperationStats;
  resetStats(): void;
  /** Findings held by the memory Security Hub for one account and region. */
  memoryFindings(accountId: string, region: string): AsffFinding[];
  /**
   * Every BatchImportFindings request as it arrived (before any fault): the caller's account, the
   * region, how many findings, and the distinct AwsAccountIds they named (a batch that mixes tenants
   * names more than one).
   */
  importBatches(): ImportBatch[];
  /** Closes the server and every open socket, held requests included. Idempotent. */
  stop(): Promise<void>;
}

/** One BatchImportFindings request as it reached the proxy. */
interface ImportBatch {
  caller: string;
  region: string;
  findings: number;
  accounts: string[];
}

class FaultProxyServer {
  private plan: FaultPlan;
  readonly batches: ImportBatch[] = [];
  readonly stats = new StatsRecorder();
  readonly securityHub: SecurityHubStore;
  readonly sqs: SqsStore;
  /** The proxy's own base URL, once it listens (the memory SQS's queue URLs name it). */
  endpoint = 'http://127.0.0.1';
  private readonly upstream: Upstream;
  private readonly clock: () => number;

  constructor(private readonly options: Options) {
    this.clock = options.clock ?? (() => performance.now());
    this.plan = new FaultPlan(options.rules, options.seed, this.clock);
    this.upstream = new Upstream(options.upstream === undefined ? undefined : new URL(options.upstream));
    this.securityHub = new SecurityHubStore({ requireEnabledHub: options.requireEnabledHub });
    this.sqs = new SqsStore(() => this.endpoint);
  }

  close(): void {
    this.upstream.close();
  }

  setRules(rules: FaultRules): void {
    this.plan = new FaultPlan(parseOrThrow(rulesSchema, rules), this.options.seed, this.clock);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const info = classifyRequest(req.method ?? 'GET', req.url ?? '/', req.headers, body ?? Buffer.alloc(0));
    const stats = this.stats.forRequest(info);
    stats.requests++;
    if (body === undefined) {
      stats.answeredLocally++;
      send(
        res,
        awsErrorResponse(info, 413, 'RequestEntityTooLarge', 'Request body too large for the fault proxy'),
      );
      return;
    }
    const exchange: Exchange = { req, res, body, info, stats };
    if (info.service === 'securityhub' && info.operation === 'BatchImportFindings') {
      const caller = await this.upstream.callerAccount(info.accessKeyId);
      const parsed = parseJson(body);
      const findings = isRecord(parsed) ? parsed.Findings : undefined;
      this.stats.countEntries(`${caller}/${info.region ?? 'unknown'}`, findings);
      if (Array.isArray(findings)) {
        const accounts = new Set(findings.map((f) => (isRecord(f) ? String(f.AwsAccountId) : '')));
        this.batches.push({
          caller,
          region: info.region ?? 'unknown',
          findings: findings.length,
          accounts: [...accounts].sort(),
        });
      }
    }

    const delay = this.plan.latencyFor(info);
    if (delay > 0) {
      stats.delayed++;
      // fault-injection delay: the latency rule's injected delay is the fault itself.
      await sleep(delay);
      if (res.destroyed) return;
    }
    if (this.plan.roll('resets', info) !== undefined) {
      stats.resets++;
      req.socket.resetAndDestroy();
      return;
    }
    const timeout = this.plan.roll('timeouts', info);
    if (timeout !== undefined) {
      stats.timeouts++;
      this.hold(req, res, timeout.holdMs);
      return;
    }
    const account =
      info.service === 'securityhub' ? await this.upstream.callerAccount(info.accessKeyId) : 'any';
    const throttle = this.plan.throttled({ ...info, account });
    if (throttle !== undefined) {
      stats.throttled++;
      send(res, awsErrorResponse(info, 429, throttle.errorCode, throttle.message));
      return;
    }
    const failure = this.plan.roll('errors', info);
    if (failure !== undefined) {
      stats.injected5xx++;
      send(res, serverErrorResponse(info, failure.status));
      return;
    }
    if (this.options.enforceExternalId && info.service === 'sts' && info.operation === 'AssumeRole') {
      const form = new URLSearchParams(body.toString('utf8'));
      const denial = await externalIdDenial(form, info.accessKeyId, this.upstream.getRole);
      if (denial !== undefined) {
        stats.answeredLocally++;
        send(res, awsErrorResponse(info, 403, 'AccessDenied', denial));
        return;
      }
    }
    const memorySqs = this.options.sqs === 'memory';
    if (info.service === 'sqs' && (memorySqs || info.operation.endsWith('Batch'))) {
      // Past every fault rule: what SQS itself gets (from moto, or from the memory SQS).
      const parsed = parseJson(body);
      const entries = isRecord(parsed) ? parsed.Entries : undefined;
      if (info.operation.endsWith('Batch') && Array.isArray(entries)) stats.batchEntries += entries.length;
      if (memorySqs) {
        const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
        const local = await this.sqs.answer(info, parsed, closed);
        stats.answeredLocally++;
        if (!res.destroyed) send(res, local);
        return;
      }
    }
    if (info.service === 'securityhub') {
      if (info.operation === 'BatchImportFindings') return this.importFindings(exchange, account);
      if (this.options.securityHub === 'memory') {
        const local = this.securityHub.answer(info, body, account);
        if (local !== undefined) {
          stats.answeredLocally++;
          send(res, local);
          return;
        }
      }
    }
    const answer = await this.forward(exchange);
    if (answer !== undefined) relay(res, answer);
  }

  /** Leaves the request unanswered; closes its connection after `holdMs` when given. */
  private hold(req: IncomingMessage, res: ServerResponse, holdMs: number | undefined): void {
    if (holdMs === undefined) return;
    // fault-injection delay: a held request is the injected timeout; the timer ends the hold.
    const timer = setTimeout(() => req.socket.destroy(), holdMs);
    res.once('close', () => clearTimeout(timer));
  }

  private async forward(
    exchange: Exchange,
    body: Buffer = exchange.body,
  ): Promise<UpstreamResponse | undefined> {
    const { req, res, info, stats } = exchange;
    try {
      const answer = await this.upstream.request(
        req.method ?? 'GET',
        req.url ?? '/',
        copyHeaders(req.headers),
        body,
      );
      stats.forwarded++;
      return answer;
    } catch (error) {
      stats.upstreamErrors++;
      send(
        res,
        awsErrorResponse(info, 502, 'BadGateway', `fault proxy: upstream unreachable (${String(error)})`),
      );
      return undefined;
    }
  }

  private async importFindings(exchange: Exchange, account: string): Promise<void> {
    const { res, info, stats, body } = exchange;
    const region = info.region ?? 'unknown';
    const memory = this.options.securityHub === 'memory';
    const parsed = parseJson(body);
    const request = isRecord(parsed) ? parsed : {};
    const findings = request.Findings;
    if (!Array.isArray(findings) || !findings.every(isRecord)) {
      if (!memory) {
        const answer = await this.forward(exchange);
        if (answer !== undefined) relay(res, answer);
        return;
      }
      stats.answeredLocally++;
      send(res, awsErrorResponse(info, 400, 'InvalidInputException', 'Findings must be a list of findings'));
      return;
    }
    const partnerName = memory ? this.options.partners[account] : undefined;
    const partnerArn =
      partnerName === undefined ? undefined : partnerProductArn(region, account, partnerName);
    const refusal = importRefusal(findings, {
      account,
      region,
      partnerProductArn: partnerArn,
      accountChecks: this.plan.rules.accountChecks,
      hubEnabled: memory ? this.securityHub.hubEnabledForImport(account, region) : undefined,
    });
    if (refusal !== undefined) {
      stats.answeredLocally++;
      send(res, awsErrorResponse(info, refusal.status, refusal.code, refusal.message));
      return;
    }

    const failed: ImportFailure[] = [];
    const passing: AsffFinding[] = [];
    for (const finding of findings) {
      const injected = this.plan.injectedFailure(finding);
      if (injected === undefined) passing.push(finding);
      else failed.push(injected);
    }
    stats.failedFindings += failed.length;

    let succeeded: string[];
    let upstreamFailed: ImportFailure[] = [];
    if (memory && partnerArn !== undefined) {
      ({ succeeded, failed: upstreamFailed } = this.securityHub.importForPartner(
        region,
        partnerArn,
        passing,
      ));
      stats.answeredLocally++;
    } else if (memory) {
      ({ succeeded, failed: upstreamFailed } = this.securityHub.import(account, region, passing));
      stats.answeredLocally++;
    } else if (passing.length === 0) {
      succeeded = [];
      stats.answeredLocally++;
    } else {
      const forwardedBody = Buffer.from(JSON.stringify({ ...request, Findings: passing }));
      const answer = await this.forward(exchange, forwardedBody);
      if (answer === undefined) return;
      const result = parseJson(answer.body);
      if (answer.status !== 200 || !isRecord(result)) return relay(res, answer);
      upstreamFailed = Array.isArray(result.FailedFindings) ? (result.FailedFindings as ImportFailure[]) : [];
      const failedIds = new Set(upstreamFailed.map((f) => f.Id));
      succeeded = passing.map((f) => String(f.Id)).filter((id) => !failedIds.has(id));
    }

    this.stats.recordImport(
      `${account}/${region}`,
      findings.length,
      failed.length + upstreamFailed.length,
      succeeded,
    );
    const allFailed = [...upstreamFailed, ...failed];
    send(
      res,
      jsonResponse({
        FailedCount: allFailed.length,
        SuccessCount: succeeded.length,
        FailedFindings: allFailed,
      }),
    );
  }
}

/** Starts the fault-injecting AWS proxy on a free 127.0.0.1 port (see docs/adr/0010-fault-injecting-proxy.md). */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const proxy = new FaultProxyServer(parseOrThrow(optionsSchema, options));
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    proxy.handle(req, res).catch((error: unknown) => {
      // A bug or a malformed exchange must cost one request, never the proxy.
      if (!res.headersSent && !res.destroyed) {
        send(res, {
          status: 500,
          headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'InternalFailure' },
          body: JSON.stringify({ Code: 'InternalFailure', Message: `fault proxy error: ${String(error)}` }),
        });
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new FaultProxyError('listen_failed', String(error), { cause: error })),
    );
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  proxy.endpoint = `http://127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    setRules: (rules) => proxy.setRules(rules),
    stats: () => proxy.stats.snapshot(),
    operationStats: (service, operation) => proxy.stats.operation(service, operation),
    resetStats: () => proxy.stats.reset(),
    memoryFindings: (accountId, region) => proxy.securityHub.list(accountId, region),
    importBatches: () => proxy.batches.map((b) => ({ ...b, accounts: [...b.accounts] })),
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        proxy.close();
      });
      return stopping;
    },
  };
}
