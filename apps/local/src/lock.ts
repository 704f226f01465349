import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { LocalStackError } from './errors.ts';

// Hand-written rather than proper-lockfile: the refusal must name the pid that holds the folder, and on
// one machine "is that pid still the process that took the lock" (pid + its start time in /proc) is an
// exact staleness test, where proper-lockfile's mtime refresh is a timing guess.

const lockFileSchema = z.object({
  pid: z.number().int().positive(),
  startTime: z.string(),
  token: z.string(),
});
type LockFile = z.infer<typeof lockFileSchema>;

/** A freshly created lock file may be empty for a moment; only an older unreadable one is stale. */
const UNREADABLE_GRACE_MS = 5000;

/** A held lock on a data folder. */
export interface DataDirLock {
  readonly file: string;
  release(): void;
}

/** The lock file of a data folder. */
export function lockFileOf(dataDir: string): string {
  return join(dataDir, 'stack.lock');
}

/** A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or '' when unknown. */
function processStartTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; the fields after the last ')' do not.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function isRunning(holder: LockFile): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = processStartTime(holder.pid);
  // A different start time means the pid was reused by another process after the holder died.
  return now === '' || holder.startTime === '' || now === holder.startTime;
}

function readHolder(file: string): LockFile | 'unreadable' | 'gone' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return 'gone';
  }
  try {
    return lockFileSchema.parse(JSON.parse(text));
  } catch {
    return 'unreadable';
  }
}

function lockedError(dataDir: string, pid: number | undefined): LocalStackError {
  const by = pid === undefined ? 'another process' : `another local stack (pid ${pid})`;
  return new LocalStackError(
    'data_dir_locked',
    `the data folder ${dataDir} is in use by ${by}. Stop that one first, or start this one on another folder with --data-dir <dir>.`,
  );
}

/**
 * Takes the data folder for this process (an O_EXCL lock file holding the pid), or throws `data_dir_locked`
 * naming the folder and the pid that holds it. A lock left by a process that is gone is taken over.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const file = lockFileOf(dataDir);
  const mine: LockFile = {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    token: randomBytes(8).toString('hex'),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(mine), { flag: 'wx', mode: 0o600 });
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        const holder = readHolder(file);
        if (typeof holder === 'object' && holder.token === mine.token) unlinkSync(file);
      };
      process.on('exit', release);
      return { file, release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readHolder(file);
    if (holder === 'gone') continue;
    if (holder === 'unreadable') {
      const modified = statSync(file, { throwIfNoEntry: false })?.mtimeMs;
      if (modified === undefined) continue;
      if (Date.now() - modified < UNREADABLE_GRACE_MS) throw lockedError(dataDir, undefined);
    } else if (isRunning(holder)) {
      throw lockedError(dataDir, holder.pid);
    }
    try {
      unlinkSync(file);
    } catch {
      // Another starter removed the stale lock first; the next attempt races it fairly through O_EXCL.
    }
  }
  throw lockedError(dataDir, undefined);
}

/** The pid of the live process holding a data folder's lock, or undefined when no stack runs on it. */
export function lockHolder(dataDir: string): number | undefined {
  const holder = readHolder(lockFileOf(dataDir));
  return typeof holder === 'object' && isRunning(holder) ? holder.pid : undefined;
}
