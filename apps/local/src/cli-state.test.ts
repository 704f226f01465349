import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLocalConnection } from '@vsh/cli/local-state';
import { afterEach, describe, expect, it } from 'vitest';
import { localStateFile, saveState } from './state.ts';

const folders: string[] = [];
function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vsh-local-cli-state-'));
  folders.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

// The operator CLI reads two fields of the state file this app writes, with its own schema (it needs nothing
// of the local stack at run time); these tests hold the two together.
describe("the CLI's readLocalConnection", () => {
  it('reads the API URL and operator key from the state file the local stack writes', () => {
    const dir = folder();
    saveState(dir, {
      masterKey: 'm',
      operatorKey: 'vsh_op_local',
      vaikoraKey: 'v',
      apiUrl: 'http://127.0.0.1:8080',
      ports: { moto: 5000 },
    });

    const connection = readLocalConnection(dir);

    expect(connection).toEqual({ operatorKey: 'vsh_op_local', apiUrl: 'http://127.0.0.1:8080' });
  });

  it('finds no local stack in a folder without a state file or with an unreadable one', () => {
    const empty = folder();
    const broken = folder();
    writeFileSync(localStateFile(broken), '{not json');

    expect(readLocalConnection(empty)).toBeUndefined();
    expect(readLocalConnection(broken)).toBeUndefined();
  });
});
