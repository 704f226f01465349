import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// A test that sleeps a fixed time, hoping that something happened meanwhile, is slow when it waits too long
// and flaky when the machine is slower than the guess. Wait for the thing itself instead: vi.waitFor,
// expect.poll, fake timers, or an event or promise of the code under test. A delay that IS the fault under
// test (a frozen process, a kill at a random moment) is marked on its line or the line before it:
//   // fault-injection delay: <why>

const MARKER = /\/\/\s*fault-injection delay:/;
/** The shapes of a fixed sleep: resolving a promise from a timer, and awaiting a sleep helper. */
const FIXED_SLEEP = [
  // new Promise((resolve) => setTimeout(resolve, 50)): a resolver handed straight to a timer.
  /\bsetTimeout\(\s*[A-Za-z_$][\w$]*\s*,/,
  // await sleep(100), await delay(100), await setTimeout(100) from node:timers/promises.
  /\bawait\s+(?:sleep|delay|setTimeout)\s*\(/,
  /\bawait\s+scheduler\.wait\s*\(/,
];

/** Lines of `text` that sleep a fixed time without the fault-injection marker, as `path:line: code`. */
function fixedSleeps(path: string, text: string): string[] {
  const lines = text.split('\n');
  const found: string[] = [];
  lines.forEach((line, index) => {
    const code = line.trim();
    if (code.startsWith('//') || code.startsWith('*')) return;
    if (!FIXED_SLEEP.some((shape) => shape.test(code))) return;
    if (MARKER.test(line) || MARKER.test(lines[index - 1] ?? '')) return;
    found.push(`${path}:${index + 1}: ${code}`);
  });
  return found;
}

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SELF = relative(ROOT, fileURLToPath(import.meta.url));

/** Every test file of the working tree, committed or new (not ignored); not those deleted since. */
function testFiles(): string[] {
  const listed = execFileSync(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard', '--', '*.test.ts'],
    { cwd: ROOT, encoding: 'utf8' },
  );
  return listed.split('\n').filter((path) => path !== '' && path !== SELF && existsSync(join(ROOT, path)));
}

describe('no test sleeps a fixed time', () => {
  it('finds the fixed-sleep shapes and lets a marked fault-injection delay through', () => {
    const text = [
      '    await new Promise((resolve) => setTimeout(resolve, 50));',
      '    await sleep(300);',
      '    await delay(LEASE_TTL_MS);',
      '    // fault-injection delay: the worker stays frozen past its lease.',
      '    await sleep(LEASE_TTL_MS + 1000);',
      '    await sleep(rng.int(0, 2500)); // fault-injection delay: a kill at a random moment',
      '    // a comment about await sleep(10) is no sleep',
      '    await vi.waitFor(() => expect(started).toBe(true));',
      '    const timer = setTimeout(() => child.kill(), EXIT_MS);',
    ].join('\n');

    expect(fixedSleeps('x.test.ts', text)).toEqual([
      'x.test.ts:1: await new Promise((resolve) => setTimeout(resolve, 50));',
      'x.test.ts:2: await sleep(300);',
      'x.test.ts:3: await delay(LEASE_TTL_MS);',
    ]);
  });

  it('finds none in the repository’s test files', () => {
    const files = testFiles();

    const found = files.flatMap((path) => {
      const text = readFileSync(join(ROOT, path), 'utf8');
      return fixedSleeps(path, text);
    });

    expect(files.length).toBeGreaterThan(100);
    expect(found).toEqual([]);
  });
});
