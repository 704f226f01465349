import { parseArgs } from 'node:util';
import { loadEnv, startApiServer } from '@vsh/api';
import { errorInfo, errorMessage } from '@vsh/core';
import { parseWorkerEnv, startWorker } from '@vsh/worker';
import { customerFindings } from './customer.ts';
import { LocalStackError, UsageError } from './errors.ts';
import type { LocalIo } from './io.ts';
import { consoleLogger } from './logger.ts';
import { type AnyLocalStack, startLocalStack } from './stack.ts';

export const START_USAGE = `Usage: pnpm start [--port <n>] [--data-dir <dir>] [--no-demo]

With no configuration: runs the whole system on this machine (PGlite under the data folder,
moto_server for AWS, DynamoDB Local, the Vaikora simulator, the API and the worker) and onboards a
demo tenant through the API. One stack per data folder (a second start on it is refused). Ctrl-C or
SIGTERM, at any moment, stops everything it started.

With configuration (DATABASE_URL or APP_ENV=production, see README): runs the API and the worker
against the configured services; nothing local is started.

Options:
  --port <n>         API port (default 8080, or $PORT)
  --data-dir <dir>   local data folder (default .data)
  --no-demo          local: no demo tenant, only the simulator (its URL, key and agents are printed)
`;

/** How often the owner checks that its parent (pnpm, a shell) is still there. */
const PARENT_POLL_MS = 500;
/**
 * The parent to outlive no longer than PARENT_POLL_MS. The `start` script passes pnpm's pid
 * (`VSH_PARENT_PID=$PPID exec node …`), because pnpm killed while node still loads its modules (seconds
 * on a busy machine) would otherwise have re-parented us before any code of ours could read our parent.
 */
const LAUNCH_PARENT_PID = Number(process.env.VSH_PARENT_PID) || process.ppid;

/**
 * Stop requests for this process: SIGINT, SIGTERM, or the parent going away (a killed `pnpm start` leaves
 * its child re-parented, which is seen as a change of `process.ppid`). Installed before anything starts,
 * so every moment of start-up can be interrupted; `dispose` removes the handlers.
 */
function stopRequests(say: (line: string) => void): {
  signal: AbortSignal;
  reason: () => string;
  dispose: () => void;
} {
  const controller = new AbortController();
  let why = '';
  const request = (reason: string) => {
    if (controller.signal.aborted) {
      say(`${reason}: already stopping, please wait…`);
      return;
    }
    why = reason;
    say(`${reason}: stopping everything…`);
    controller.abort(reason);
  };
  const onInt = () => request('SIGINT');
  const onTerm = () => request('SIGTERM');
  const onHup = () => request('SIGHUP');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  const parent = LAUNCH_PARENT_PID;
  if (process.ppid !== parent) queueMicrotask(() => request('parent process exited'));
  const watch = setInterval(() => {
    if (process.ppid !== parent) request('parent process exited');
  }, PARENT_POLL_MS);
  watch.unref();
  return {
    signal: controller.signal,
    reason: () => why,
    dispose() {
      clearInterval(watch);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
    },
  };
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** `pnpm start`: the whole system, locally or against configured services. */
export async function startCommand(args: string[], io: LocalIo): Promise<number> {
  let values: { port?: string; 'data-dir'?: string; 'no-demo'?: boolean };
  try {
    values = parseArgs({
      args,
      strict: true,
      options: { port: { type: 'string' }, 'data-dir': { type: 'string' }, 'no-demo': { type: 'boolean' } },
    }).values;
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  const rawPort = values.port ?? process.env.PORT ?? '8080';
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || !Number.isInteger(port) || port > 65_535)
    throw new UsageError(`--port must be a port number (0-65535), got "${rawPort}"`);
  const say = (line: string) => io.stdout.write(`${line}\n`);
  // The SDK warns on every start that its future releases need Node 22; this repo already requires 22+
  // (package.json engines), so on an older Node that line only hides the connector's own output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const configured = process.env.DATABASE_URL !== undefined || process.env.APP_ENV === 'production';
  const stop = stopRequests(say);
  try {
    if (configured) return await startConfigured(io, say, stop.signal);
    return await startLocal(io, say, stop.signal, {
      port,
      dataDir: values['data-dir'] ?? '.data',
      demo: values['no-demo'] !== true,
    });
  } catch (err) {
    if (err instanceof LocalStackError) {
      if (err.code === 'aborted') {
        say(`${stop.reason()}: stopped before start-up finished; nothing is left running.`);
        return 0;
      }
      io.stderr.write(`start: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    stop.dispose();
  }
}

async function startConfigured(
  io: LocalIo,
  say: (line: string) => void,
  signal: AbortSignal,
): Promise<number> {
  const logger = consoleLogger(io, process.env.LOG_LEVEL ?? 'info');
  const api = await startApiServer({ env: loadEnv(), logger: logger.child({ service: 'api' }) });
  const workerEnv = parseWorkerEnv(process.env);
  if (!workerEnv.ok) {
    await api.close();
    throw new UsageError(`worker configuration:\n${workerEnv.message}`);
  }
  const worker = await startWorker(workerEnv.env, logger.child({ service: 'worker' }));
  say(`API on ${api.url}; worker in ${workerEnv.env.WORKER_MODE} mode. Ctrl-C stops both.`);
  await untilAborted(signal);
  await worker.stop();
  await api.close();
  say('stopped.');
  return 0;
}

function banner(stack: AnyLocalStack, seconds: number, say: (line: string) => void): void {
  const { demo, vaikora } = stack;
  say('');
  say(`Vaikora → Security Hub connector, running locally (ready in ${seconds.toFixed(1)} s)`);
  say(`  API              ${stack.apiUrl}/`);
  say(`  Web UI           ${stack.apiUrl}/ui`);
  say(`  API docs         ${stack.apiUrl}/docs  (OpenAPI: ${stack.apiUrl}/openapi.json)`);
  say(`  Status page      ${stack.apiUrl}/ui/status`);
  say(`  Operator key     ${stack.operatorKey}`);
  say(`  Vaikora (sim)    ${vaikora.baseUrl}  key ${vaikora.apiKey}`);
  say(`                   agents ${vaikora.agents.join(', ')}`);
  if (demo !== undefined) say(`  Demo tenant      ${demo.tenantId}  key ${demo.tenantApiKey}`);
  say(
    `  Local AWS        ${stack.awsEndpoint}  (moto${demo === undefined ? '' : `; demo customer account ${demo.accountId}, ${demo.region}`})`,
  );
  say(`  Data folder      ${stack.dataDir}`);
  say('');
  if (demo !== undefined) {
    say('What to look at:');
    say(
      `  curl -H "authorization: Bearer ${demo.tenantApiKey}" ${stack.apiUrl}/v1/tenants/${demo.tenantId}/status`,
    );
    say('  findings arriving in the demo account are counted below; Ctrl-C stops everything.');
  } else {
    say(
      'No demo tenant (--no-demo): create one with `pnpm connector tenants create` or the web UI; Ctrl-C stops everything.',
    );
  }
}

async function startLocal(
  io: LocalIo,
  say: (line: string) => void,
  signal: AbortSignal,
  options: { port: number; dataDir: string; demo: boolean },
): Promise<number> {
  const logger = consoleLogger(io, process.env.LOG_LEVEL ?? 'warn');
  const began = Date.now();
  const stack = await startLocalStack({
    dataDir: options.dataDir,
    apiPort: options.port,
    logger,
    say,
    signal,
    demo: options.demo,
  });
  banner(stack, (Date.now() - began) / 1000, say);

  const { demo } = stack;
  let last = -1;
  const watch =
    demo === undefined
      ? undefined
      : setInterval(() => {
          customerFindings({
            endpoint: stack.awsEndpoint,
            motoEndpoint: stack.motoEndpoint,
            accountId: demo.accountId,
            region: demo.region,
          })
            .then((findings) => {
              if (findings.length !== last && !signal.aborted) {
                last = findings.length;
                const newest = findings[0];
                say(
                  `[${new Date().toISOString()}] ${findings.length} findings in the local Security Hub${newest ? `; newest: ${newest.Severity} ${newest.Title}` : ''}`,
                );
              }
            })
            .catch((err: unknown) => logger.warn({ err: errorInfo(err) }, 'could not read findings'));
        }, 5000);
  await untilAborted(signal);
  if (watch !== undefined) clearInterval(watch);
  await stack.stop();
  say('stopped.');
  return 0;
}
