#!/usr/bin/env -S npx tsx
import { ApiClientError } from './api-client.ts';
import { BACKFILL_USAGE, backfillCommand } from './commands/backfill.ts';
import { MAP_USAGE, mapCommand } from './commands/map.ts';
import { RUN_NOW_USAGE, runNowCommand } from './commands/run-now.ts';
import { TENANTS_USAGE, tenantsCommand } from './commands/tenants.ts';
import { type CommandTable, dispatch, exitOnClosedPipe, isMainModule } from './dispatch.ts';
import type { CommandIo } from './io.ts';

const USAGE = `Usage: connector <command> [options]

Commands:
  map      preview the ASFF findings that Vaikora actions on stdin would become
  help     show this help

Operator commands (talk to the API with the operator key; see "connector tenants --help"):
  tenants list|show   every tenant's health, or one tenant's status
  run-now <tenantId>  ask for a run of a tenant now
  backfill            re-send a tenant's time range to Security Hub, with progress

The whole system runs with "pnpm start" (locally with no configuration); the local stack's own
commands are "pnpm local <command>" (see "pnpm local help").

Run "connector <command> --help" for a command's options.
`;

const CONNECTOR: CommandTable<CommandIo> = {
  program: 'connector',
  usage: USAGE,
  commands: {
    backfill: { run: backfillCommand, usage: BACKFILL_USAGE },
    map: { run: mapCommand, usage: MAP_USAGE },
    'run-now': { run: runNowCommand, usage: RUN_NOW_USAGE },
    tenants: { run: tenantsCommand, usage: TENANTS_USAGE },
  },
  // The API refused or could not be reached: its message says what to do; exit 1.
  expectedFailure: (err) => (err instanceof ApiClientError ? 1 : undefined),
};

/** Runs the CLI with the given arguments and streams; returns the exit code. Never throws. */
export function runCli(argv: string[], io: CommandIo): Promise<number> {
  return dispatch(CONNECTOR, argv, io);
}

if (isMainModule(import.meta.url)) {
  exitOnClosedPipe();
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
