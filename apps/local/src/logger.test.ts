import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { consoleLogger } from './logger.ts';

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

describe('consoleLogger', () => {
  it('writes readable lines, not JSON, when stderr is a terminal', async () => {
    const err = stderr(true);

    consoleLogger({ stderr: err.stream }, 'info').warn({ tenantId: 'ten_1' }, 'cursor not read');

    // pino-pretty formats in a stream of its own, so the line arrives a moment later.
    await vi.waitFor(() => expect(err.text()).toContain('cursor not read'));
    expect(err.text()).toMatch(/WARN/);
    expect(() => JSON.parse(err.text())).toThrow();
  });

  it('writes one JSON object per line when stderr is not a terminal', async () => {
    const err = stderr(false);

    consoleLogger({ stderr: err.stream }, 'info').warn({ tenantId: 'ten_1' }, 'cursor not read');

    await vi.waitFor(() => expect(err.text()).toContain('\n'));
    expect(JSON.parse(err.text().trim())).toMatchObject({
      level: 40,
      msg: 'cursor not read',
      tenantId: 'ten_1',
    });
  });

  it('drops lines below the level', async () => {
    const err = stderr(false);

    const logger = consoleLogger({ stderr: err.stream }, 'warn');

    logger.info('noise');
    logger.warn('signal');

    // Lines keep their order, so once the later warning is written the dropped line would be there too.
    await vi.waitFor(() => expect(err.text()).toContain('signal'));
    expect(err.text()).not.toContain('noise');
  });
});
