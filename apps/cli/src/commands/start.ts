import { parseArgs } from 'node:util';
import { loadEnv, startApiServer } from '@vsh/api';
import { parseWorkerEnv, startWorker } from '@vsh/worker';
import { pino } from 'pino';
import { type CommandIo, UsageError } from '../io.ts';
import { customerFindings } from '../local/customer.ts';
import { startLocalStack } from '../local/stack.ts';

export const START_USAGE = `Usage: connector start [--port <n>] [--data-dir <dir>]

With no configuration: runs the whole system on this machine (PGlite under the data folder,
moto_server for AWS, DynamoDB Local, the Vaikora simulator, the API and the worker) and onboards a
demo tenant through the API. Ctrl-C stops everything it started.

With configuration (DATABASE_URL or APP_ENV=production, see README): runs the API and the worker
against the configured services; nothing local is started.

Options:
  --port <n>         API port (default 8080, or $PORT)
  --data-dir <dir>   local data folder (default .data)
`;

/**
 * Resolves when the process is asked to stop (Ctrl-C or SIGTERM). `on`, not `once`: signal-exit (which
 * the local emulators use to never outlive us) re-raises a signal that has no other listener left.
 */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.on('SIGINT', () => resolve('SIGINT'));
    process.on('SIGTERM', () => resolve('SIGTERM'));
  });
}

/** `connector start`: the main job. */
export async function startCommand(args: string[], io: CommandIo): Promise<number> {
  let values: { port?: string; 'data-dir'?: string };
  try {
    values = parseArgs({
      args,
      strict: true,
      options: { port: { type: 'string' }, 'data-dir': { type: 'string' } },
    }).values;
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const port = Number(values.port ?? process.env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UsageError(`--port must be a port number, got "${values.port}"`);
  const say = (line: string) => io.stdout.write(`${line}\n`);
  const configured = process.env.DATABASE_URL !== undefined || process.env.APP_ENV === 'production';
  const stopped = untilSignal();

  if (configured) {
    const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });
    const api = await startApiServer({ env: loadEnv(), logger: logger.child({ service: 'api' }) });
    const workerEnv = parseWorkerEnv(process.env);
    if (!workerEnv.ok) {
      await api.close();
      throw new UsageError(`worker configuration:\n${workerEnv.message}`);
    }
    const worker = await startWorker(workerEnv.env, logger.child({ service: 'worker' }));
    say(`API on ${api.url}; worker in ${workerEnv.env.WORKER_MODE} mode. Ctrl-C stops both.`);
    say(`signal ${await stopped}: stopping…`);
    await worker.stop();
    await api.close();
    return 0;
  }

  const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
  const started = Date.now();
  const stack = await startLocalStack({ dataDir: values['data-dir'] ?? '.data', apiPort: port, logger, say });
  const { demo } = stack;
  say('');
  say(
    `Vaikora → Security Hub connector, running locally (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
  say(
    `  API              ${stack.apiUrl}        (OpenAPI: ${stack.apiUrl}/openapi.json, docs: ${stack.apiUrl}/docs)`,
  );
  say(`  Onboarding page  ${stack.apiUrl}/ui/onboarding`);
  say(`  Status page      ${stack.apiUrl}/ui/status`);
  say(`  Operator view    ${stack.apiUrl}/ui/operator`);
  say(`  Operator key     ${stack.operatorKey}`);
  say(`  Demo tenant      ${demo.tenantId}  key ${demo.tenantApiKey}`);
  say(
    `  Local AWS        ${stack.awsEndpoint}  (moto; demo customer account ${demo.accountId}, ${demo.region})`,
  );
  say('');
  say('What to look at:');
  say(
    `  curl -H "authorization: Bearer ${demo.tenantApiKey}" ${stack.apiUrl}/v1/tenants/${demo.tenantId}/status`,
  );
  say('  findings arriving in the demo account are counted below; Ctrl-C stops everything.');

  let last = -1;
  const watch = setInterval(() => {
    customerFindings({
      endpoint: stack.awsEndpoint,
      motoEndpoint: stack.motoEndpoint,
      accountId: demo.accountId,
      region: demo.region,
    })
      .then((findings) => {
        if (findings.length !== last) {
          last = findings.length;
          const newest = findings[0];
          say(
            `[${new Date().toISOString()}] ${findings.length} findings in the local Security Hub${newest ? `; newest: ${newest.Severity} ${newest.Title}` : ''}`,
          );
        }
      })
      .catch((err: unknown) =>
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not read findings'),
      );
  }, 5000);
  const signal = await stopped;
  clearInterval(watch);
  say(`${signal}: stopping everything…`);
  await stack.stop();
  say('stopped.');
  return 0;
}
