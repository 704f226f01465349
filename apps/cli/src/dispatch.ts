import { realpathSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { errorMessage } from '@vsh/core';

/**
 * The command dispatch both command-line programs share (`connector` here, `pnpm local` in apps/local):
 * help, unknown commands, per-command `--help`, and exit codes. Hand-written because it is 40 lines and
 * the programs' contract (exit 2 with the usage on bad arguments, 1 with one line on a failure, output
 * kept stable for scripts) is easier to keep here than to bend a framework (commander, citty) to.
 */

/** A command-line error: printed as its message with the command's usage, exit code 2 (bad arguments). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CommandTable<Io> {
  /** The program's name in its messages, e.g. `connector` or `pnpm local`. */
  readonly program: string;
  /** The program's usage, printed for `help` and an unknown or missing command. */
  readonly usage: string;
  readonly commands: Readonly<
    Record<string, { readonly run: (args: string[], io: Io) => Promise<number>; readonly usage: string }>
  >;
  /** An expected failure's exit code (its message is printed as is); undefined for an unexpected one. */
  readonly expectedFailure?: (err: unknown) => number | undefined;
}

/** Runs the command `argv` names; returns the exit code. Never throws. */
export async function dispatch<Io extends { readonly stdout: Writable; readonly stderr: Writable }>(
  table: CommandTable<Io>,
  argv: readonly string[],
  io: Io,
): Promise<number> {
  const [name, ...rest] = argv;
  // `pnpm connector map -- --region us-east-1` passes the `--` through.
  const args = rest[0] === '--' ? rest.slice(1) : rest;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.stdout.write(table.usage);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(table.commands, name) ? table.commands[name] : undefined;
  if (!command) {
    io.stderr.write(`${table.program}: unknown command "${name}"\n\n${table.usage}`);
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
      io.stderr.write(`${table.program} ${name}: ${err.message}\n\n${command.usage}`);
      return 2;
    }
    const code = table.expectedFailure?.(err);
    if (code !== undefined) {
      io.stderr.write(`${table.program} ${name}: ${errorMessage(err)}\n`);
      return code;
    }
    io.stderr.write(`${table.program} ${name}: unexpected error: ${errorMessage(err)}\n`);
    return 1;
  }
}

/** Whether the module at `moduleUrl` is the program node was started with (not imported by a test). */
export function isMainModule(moduleUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && moduleUrl === pathToFileURL(realpathSync(entry)).href;
}

/** Ends the program quietly when its output pipe closes (e.g. `| head`), as a command-line tool should. */
export function exitOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}
