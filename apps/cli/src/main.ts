#!/usr/bin/env -S npx tsx
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ApiClientError } from './api-client.ts';
import { BACKFILL_USAGE, backfillCommand } from './commands/backfill.ts';
import { LOCAL_USAGE, localCommand } from './commands/local.ts';
import { MAP_USAGE, mapCommand } from './commands/map.ts';
import { RUN_NOW_USAGE, runNowCommand } from './commands/run-now.ts';
import { START_USAGE, startCommand } from './commands/start.ts';
import { TENANTS_USAGE, tenantsCommand } from './commands/tenants.ts';
import { type CommandIo, UsageError } from './io.ts';

const USAGE = `Usage: connector <command> [options]

Commands:
  start    run the whole system (locally with no configuration)
  map      preview the ASFF findings that Vaikora actions on stdin would become
  help     show this help

Operator commands (talk to the API with the operator key; see "connector tenants --help"):
  tenants list|show   every tenant's health, or one tenant's status
  run-now <tenantId>  ask for a run of a tenant now
  backfill            re-send a tenant's time range to Security Hub, with progress

Local stack commands:
  local deploy-role   deploy a destination's role into the local AWS (moto), as the customer would

Run "connector <command> --help" for a command's options.
`;

type Command = (args: string[], io: CommandIo) => Promise<number>;
const COMMANDS: Record<string, { run: Command; usage: string }> = {
  backfill: { run: backfillCommand, usage: BACKFILL_USAGE },
  local: { run: localCommand, usage: LOCAL_USAGE },
  map: { run: mapCommand, usage: MAP_USAGE },
  'run-now': { run: runNowCommand, usage: RUN_NOW_USAGE },
  start: { run: startCommand, usage: START_USAGE },
  tenants: { run: tenantsCommand, usage: TENANTS_USAGE },
};

/** Runs the CLI with the given arguments and streams; returns the exit code. Never throws. */
export async function runCli(argv: string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  // `pnpm start -- --port 9000` passes the `--` through.
  const args = rest[0] === '--' ? rest.slice(1) : rest;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`connector: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(command.usage);
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`connector ${name}: ${err.message}\n\n${command.usage}`);
      return 2;
    }
    if (err instanceof ApiClientError) {
      io.stderr.write(`connector ${name}: ${err.message}\n`);
      return 1;
    }
    io.stderr.write(
      `connector ${name}: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    return 1;
  }
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // A closed pipe (e.g. `| head`) is a normal end for a command-line tool.
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const code = await runCli(process.argv.slice(2), {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    now: () => new Date(),
    env: process.env,
    fetch: globalThis.fetch,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  process.exitCode = code;
}
