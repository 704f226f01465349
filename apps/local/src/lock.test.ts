import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalStackError } from './errors.ts';
import { lockDataDir, lockFileOf } from './lock.ts';

const dirs: string[] = [];
function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vsh-lock-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function deadPid(): number {
  const pid = spawnSync('true').pid;
  if (pid === undefined) throw new Error('could not spawn `true`');
  return pid;
}

describe('lockDataDir', () => {
  it('refuses a second holder with a message naming the folder, the holding pid and --data-dir', () => {
    const dir = folder();
    const first = lockDataDir(dir);

    const second = (() => {
      try {
        lockDataDir(dir);
        return undefined;
      } catch (err) {
        return err;
      }
    })();

    expect(second).toBeInstanceOf(LocalStackError);
    expect(second).toMatchObject({ code: 'data_dir_locked' });
    const message = (second as Error).message;
    expect(message).toContain(dir);
    expect(message).toContain(`pid ${process.pid}`);
    expect(message).toContain('--data-dir');
    first.release();
  });

  it('lets the folder be taken again once released, and release removes only its own lock file', () => {
    const dir = folder();
    lockDataDir(dir).release();

    const again = lockDataDir(dir);

    expect(JSON.parse(readFileSync(lockFileOf(dir), 'utf8'))).toMatchObject({ pid: process.pid });
    again.release();
    expect(existsSync(lockFileOf(dir))).toBe(false);
  });

  it('takes over a lock left by a process that has exited', () => {
    const dir = folder();
    writeFileSync(lockFileOf(dir), JSON.stringify({ pid: deadPid(), startTime: '1', token: 'old' }));

    const lock = lockDataDir(dir);

    expect(JSON.parse(readFileSync(lockFileOf(dir), 'utf8'))).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it('takes over a lock whose pid now belongs to another process (different start time)', () => {
    const dir = folder();
    writeFileSync(lockFileOf(dir), JSON.stringify({ pid: process.pid, startTime: '1', token: 'reused' }));

    const lock = lockDataDir(dir);

    expect(JSON.parse(readFileSync(lockFileOf(dir), 'utf8'))).not.toMatchObject({ token: 'reused' });
    lock.release();
  });

  it('treats a just-written unreadable lock file as held', () => {
    const dir = folder();
    writeFileSync(lockFileOf(dir), '');

    expect(() => lockDataDir(dir)).toThrow(/in use by another process/);
  });
});
