import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { consoleLogger } from './start.ts';

function stderr(isTTY: boolean) {
  let text = '';
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        done();
      },
    }),
    { isTTY },
  );
  return { stream, text: () => text };
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
}

describe('consoleLogger', () => {
  it('writes readable lines, not JSON, when stderr is a terminal', async () => {
    const err = stderr(true);

    consoleLogger({ stderr: err.stream }, 'info').warn({ tenantId: 'ten_1' }, 'cursor not read');
    await settle();

    expect(err.text()).toContain('cursor not read');
    expect(err.text()).toMatch(/WARN/);
    expect(() => JSON.parse(err.text())).toThrow();
  });

  it('writes one JSON object per line when stderr is not a terminal', async () => {
    const err = stderr(false);

    consoleLogger({ stderr: err.stream }, 'info').warn({ tenantId: 'ten_1' }, 'cursor not read');
    await settle();

    expect(JSON.parse(err.text().trim())).toMatchObject({
      level: 40,
      msg: 'cursor not read',
      tenantId: 'ten_1',
    });
  });

  it('drops lines below the level', async () => {
    const err = stderr(false);

    consoleLogger({ stderr: err.stream }, 'warn').info('noise');
    await settle();

    expect(err.text()).toBe('');
  });
});
