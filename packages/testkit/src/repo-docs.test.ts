import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The README's layout table and newcomer's map, and the links between the design notes and ADRs, name
// files; a move or a rename that forgets them leaves a newcomer at a dead end. These tests keep them true.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The backticked repository paths in the rows of the markdown table under `heading`. */
function tablePaths(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(heading);
  if (start === -1) throw new Error(`no heading "${heading}"`);
  const rows: string[] = [];
  const lines = markdown.slice(start).split('\n').slice(1);
  let inTable = false;
  for (const line of lines) {
    if (line.startsWith('|')) {
      inTable = true;
      rows.push(line);
    } else if (inTable) break;
  }
  return rows
    .slice(2) // the header and its separator
    .flatMap((row) => [...row.matchAll(/`([^`\s]+)`/g)].map((m) => m[1] as string))
    .filter((path) => /^(apps|packages|infra|docs)\//.test(path) || path === 'docs')
    .map((path) => path.replace('<concern>', '*'));
}

/** Whether a path exists, where `*` in the last segment matches at least one `.ts` file. */
function exists(path: string): boolean {
  if (!path.includes('*')) return existsSync(join(ROOT, path));
  const dir = join(ROOT, dirname(path));
  return existsSync(dir) && readdirSync(dir).some((name) => name.endsWith('.ts') && !name.includes('.test.'));
}

/** The relative markdown links of a file that point into the repository (no URLs, no anchors only). */
function relativeLinks(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => (m[1] as string).split('#')[0] as string)
    .filter((target) => target !== '' && !/^[a-z]+:/i.test(target));
}

describe('README', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

  it.each(['## Layout', "### A newcomer's map"])('every path in the table under %s exists', (heading) => {
    const paths = tablePaths(readme, heading);
    expect(paths.length).toBeGreaterThan(10);
    expect(paths.filter((path) => !exists(path))).toEqual([]);
  });

  it('finds a missing path (the check can fail)', () => {
    const table = "### A newcomer's map\n\n| a | b |\n| --- | --- |\n| x | `apps/nowhere/src/gone.ts` |\n";
    const paths = tablePaths(table, "### A newcomer's map");
    expect(paths).toEqual(['apps/nowhere/src/gone.ts']);
    expect(paths.filter((path) => !exists(path))).toEqual(['apps/nowhere/src/gone.ts']);
  });
});

describe('docs', () => {
  const files = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`),
    ...readdirSync(join(ROOT, 'docs/adr'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/adr/${name}`),
  ];

  it.each(files)('every relative link in %s resolves', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const broken = relativeLinks(text).filter((target) => !existsSync(resolve(ROOT, dirname(file), target)));
    expect(broken).toEqual([]);
  });

  it('every ADR has a Status line under its title', () => {
    const missing = files
      .filter((file) => file.startsWith('docs/adr/'))
      .filter((file) => !/^# \d{4}: .+\n+Status: /m.test(readFileSync(join(ROOT, file), 'utf8')));
    expect(missing).toEqual([]);
  });
});
