import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { startTcpFaultProxy, type TcpFaultProxy } from './tcp-fault-proxy.ts';

/** An echo server: the upstream, so that what a client reads back is what passed both ways. */
let echo: Server;
let echoPort = 0;
beforeAll(async () => {
  echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const address = echo.address();
  echoPort = typeof address === 'object' && address !== null ? address.port : 0;
});
afterAll(async () => {
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

function connect(proxy: TcpFaultProxy): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: proxy.host, port: proxy.port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Writes the chunks, then reads until `bytes` came back or the connection closed. */
function roundTrip(
  socket: Socket,
  chunks: string[],
  bytes: number,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      text += data;
      if (text.length >= bytes) resolve({ text, closed: false });
    });
    socket.on('close', () => resolve({ text, closed: true }));
    socket.on('error', () => undefined);
    for (const chunk of chunks) socket.write(chunk);
  });
}

describe('TCP fault proxy (in front of an echo server)', () => {
  it('relays both ways, in order, with latency on every chunk', async () => {
    const proxy = await startTcpFaultProxy({
      upstream: { host: '127.0.0.1', port: echoPort },
      rules: { latencyMs: [5, 15] },
    });
    const socket = await connect(proxy);
    const chunks = Array.from({ length: 40 }, (_, i) => `chunk-${i};`);
    const expected = chunks.join('');

    const started = Date.now();
    const { text } = await roundTrip(socket, chunks, expected.length);

    expect(text).toBe(expected);
    expect(Date.now() - started).toBeGreaterThanOrEqual(10);
    socket.destroy();
    await proxy.stop();
  });

  it('refuses new connections at the configured rate', async () => {
    const proxy = await startTcpFaultProxy({
      upstream: { host: '127.0.0.1', port: echoPort },
      rules: { refuseRate: 1 },
    });
    const socket = await connect(proxy);

    const { text, closed } = await roundTrip(socket, ['hello'], 5);

    expect({ text, closed }).toEqual({ text: '', closed: true });
    expect(proxy.stats()).toMatchObject({ connections: 1, refused: 1 });
    await proxy.stop();
  });

  it('cuts connections after the drawn delay, and new ones work once the rules are cleared', async () => {
    const proxy = await startTcpFaultProxy({
      upstream: { host: '127.0.0.1', port: echoPort },
      rules: { resetRate: 1, resetAfterMs: [50, 50] },
    });
    const cut = await connect(proxy);
    const first = await roundTrip(cut, ['before the cut'], 14);
    const afterCut = await new Promise<boolean>((resolve) => cut.once('close', () => resolve(true)));

    proxy.setRules({});
    // Fake timers from here: a cut still scheduled for the fresh connection would fire on the advance below.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const fresh = await connect(proxy);
    await expect.poll(() => proxy.stats().connections).toBe(2);
    vi.advanceTimersByTime(60_000);
    const second = await roundTrip(fresh, ['still here'], 10);

    expect(first.text).toBe('before the cut');
    expect(afterCut).toBe(true);
    expect(second).toEqual({ text: 'still here', closed: false });
    expect(proxy.stats()).toMatchObject({ connections: 2, resets: 1 });
    fresh.destroy();
    await proxy.stop();
  });

  it('resetAll cuts every open connection at once, like a database restart', async () => {
    const proxy = await startTcpFaultProxy({ upstream: { host: '127.0.0.1', port: echoPort } });
    const sockets = await Promise.all([connect(proxy), connect(proxy), connect(proxy)]);
    await Promise.all(sockets.map((s, i) => roundTrip(s, [`s${i}`], 2)));
    const closed = Promise.all(sockets.map((s) => new Promise((resolve) => s.once('close', resolve))));

    const cut = proxy.resetAll();

    await closed;
    expect(cut).toBe(3);
    expect(proxy.stats().resets).toBe(3);
    await proxy.stop();
  });

  it('cuts a connection when its client sends the chosen text, before the bytes go upstream, at most `times` times', async () => {
    const proxy = await startTcpFaultProxy({
      upstream: { host: '127.0.0.1', port: echoPort },
      rules: { cutWhenClientSends: { text: 'SELECT', times: 1 } },
    });
    const first = await connect(proxy);
    onTestFinished(() => {
      first.destroy();
    });
    const before = await roundTrip(first, ['hello;'], 6);
    const closed = new Promise<boolean>((resolve) => first.once('close', () => resolve(true)));
    const echoed: string[] = [];
    first.on('data', (data: string) => echoed.push(data));
    first.write('select 1');
    const wasCut = await closed;
    const second = await connect(proxy);
    onTestFinished(() => {
      second.destroy();
    });
    const passed = await roundTrip(second, ['select 2'], 8);

    // The earlier chunk came back; the matching one never reached the upstream.
    expect(before).toEqual({ text: 'hello;', closed: false });
    expect(wasCut).toBe(true);
    expect(echoed.join('').includes('select 1')).toBe(false);
    expect(passed).toEqual({ text: 'select 2', closed: false });
    expect(proxy.stats()).toMatchObject({ connections: 2, resets: 1 });
    second.destroy();
    await proxy.stop();
  });

  it('refuses rules it does not know or cannot apply', async () => {
    const proxy = await startTcpFaultProxy({ upstream: { host: '127.0.0.1', port: echoPort } });

    expect(() => proxy.setRules({ resetRate: 2 })).toThrow();
    expect(() => proxy.setRules({ latencyMs: [10, 5] })).toThrow();
    expect(() => proxy.setRules({ dropRate: 0.5 } as never)).toThrow();
    expect(() => proxy.setRules({ cutWhenClientSends: { text: '', times: 1 } })).toThrow();
    expect(() => proxy.setRules({ cutWhenClientSends: { text: 'x', times: 0 } })).toThrow();
    await proxy.stop();
  });
});
