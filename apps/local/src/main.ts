import { type CommandTable, dispatch, exitOnClosedPipe, isMainModule } from '@vsh/cli/dispatch';
import { DEPLOY_ROLE_USAGE, deployRoleCommand } from './deploy-role.ts';
import type { LocalIo } from './io.ts';
import { START_USAGE, startCommand } from './start.ts';

const USAGE = `Usage: pnpm start [options]              run the whole system (locally with no configuration)
       pnpm local deploy-role [options]  deploy a destination's role into the local AWS (moto), as the customer would
       pnpm local help                   show this help

Run "pnpm local <command> --help" for a command's options.
`;

const LOCAL: CommandTable<LocalIo> = {
  program: 'pnpm local',
  usage: USAGE,
  commands: {
    'deploy-role': { run: deployRoleCommand, usage: DEPLOY_ROLE_USAGE },
    start: { run: startCommand, usage: START_USAGE },
  },
};

/** Runs a command of the local stack with the given arguments and streams; returns the exit code. */
export function runLocal(argv: string[], io: LocalIo): Promise<number> {
  return dispatch(LOCAL, argv, io);
}

if (isMainModule(import.meta.url)) {
  exitOnClosedPipe();
  process.exitCode = await runLocal(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    fetch: globalThis.fetch,
  });
}
