import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from './ports.ts';

function listenOn(port: number): Promise<() => Promise<void>> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () =>
      resolve(() => new Promise<void>((done) => server.close(() => done()))),
    );
  });
}

describe('freePort', () => {
  it('returns a loopback port that can be bound right away', async () => {
    const port = await freePort();

    const close = await listenOn(port);
    await close();

    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65536);
  });

  it('does not hand out a port that is already in use', async () => {
    const taken = await freePort();
    const close = await listenOn(taken);

    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    await close();

    expect(ports).not.toContain(taken);
  });
});
