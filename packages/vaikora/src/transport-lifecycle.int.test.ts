import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createVaikoraClient, type VaikoraPage } from './client.ts';
import { VaikoraError } from './errors.ts';

/**
 * Timeouts, aborts, error bodies and sockets through the worker's default transport (undici's
 * `request`, ADR 0139) against a raw TCP server, compared with a caller's `fetch` (the transport
 * before). Written by a review of the first version, whose discard of an error body waited for a
 * stalled body until the attempt's timeout. A wait that would stall runs into the test's timeout (no
 * figure of time is asserted); nothing may be left unhandled.
 */

const KEY = 'vk_test_lifecycle_secret_key';
const ACTION = (i: number) =>
  `{"id":"act-${i}","agent_id":"agt","timestamp":"2026-12-05T10:00:00.000Z","risk_level":"high"}`;
const PAGE = `{"actions":[${ACTION(1)}],"total":1}`;

type Raw = (socket: Socket, request: string) => void;
let raw: Raw = (s) => s.end();
const sockets = new Set<Socket>();
let opened = 0;
let server: Server;
let base = '';

beforeAll(async () => {
  server = createNetServer((socket) => {
    opened++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = '';
    socket.on('data', (d) => {
      buffer += d.toString('latin1');
      let end = buffer.indexOf('\r\n\r\n');
      while (end !== -1) {
        const head = buffer.slice(0, end);
        buffer = buffer.slice(end + 4);
        raw(socket, head);
        end = buffer.indexOf('\r\n\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const problems: unknown[] = [];
const onProblem = (e: unknown) => problems.push(e);
beforeAll(() => {
  process.on('uncaughtException', onProblem);
  process.on('unhandledRejection', onProblem);
});
afterAll(() => {
  process.off('uncaughtException', onProblem);
  process.off('unhandledRejection', onProblem);
});
afterEach(async () => {
  // fault-injection delay: lets an 'error' a destroyed stream emits after the test surface here.
  await new Promise((r) => setTimeout(r, 50));
  expect(problems).toEqual([]);
});

const viaFetch = (input: string, init: RequestInit) => fetch(input, init);

type Outcome = {
  ms: number;
  ids?: string[];
  rejections?: string[];
  code?: string;
  json?: string;
  reason?: unknown;
};

async function sweep(
  useFetch: boolean,
  extra: Record<string, unknown> = {},
  signal?: AbortSignal,
): Promise<Outcome> {
  const client = createVaikoraClient({
    baseUrl: base,
    apiKey: KEY,
    maxRetries: 0,
    baseDelayMs: 0,
    maxDelayMs: 0,
    ...(useFetch ? { fetch: viaFetch } : {}),
    ...extra,
  });
  const started = performance.now();
  const pages: VaikoraPage[] = [];
  try {
    for await (const page of client.sweep({ stopBeforeMs: 0, maxPages: 1, ...(signal ? { signal } : {}) }))
      pages.push(page);
  } catch (error) {
    const ms = Math.round(performance.now() - started);
    if (!(error instanceof VaikoraError)) return { ms, reason: error };
    const json = JSON.stringify({ error, stack: error.stack, cause: String(error.cause) });
    expect(json).not.toContain(KEY);
    return { ms, code: error.code, json };
  }
  return {
    ms: Math.round(performance.now() - started),
    ids: pages.flatMap((p) => p.actions.map((a) => a.id)),
    rejections: pages.flatMap((p) => p.rejections.map((r) => r.code)),
  };
}

const head = (status: string, headers: Record<string, string | number>) =>
  `HTTP/1.1 ${status}\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

const chunk = (b: Buffer) =>
  Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);

// fault-injection delay: sockets the client destroyed close on the server's side a moment later.
const settle = () => new Promise((r) => setTimeout(r, 300));

describe('error statuses whose body the client discards', () => {
  // Each client below would wait a minute for the body; the test gives it 10 s: a discard that waits
  // for the body to end fails the test by its timeout.
  const PATIENT = { timeoutMs: 60_000 };

  it('503 whose body stalls after the headers: UNAVAILABLE without waiting for the body', {
    timeout: 10_000,
  }, async () => {
    raw = (s) => s.write(head('503 Service Unavailable', { 'transfer-encoding': 'chunked' }));
    expect((await sweep(true, PATIENT)).code).toBe('UNAVAILABLE');
    expect((await sweep(false, PATIENT)).code).toBe('UNAVAILABLE');
  });

  it('503 stalled, with retries: no attempt waits for the body', { timeout: 10_000 }, async () => {
    raw = (s) => s.write(head('503 Service Unavailable', { 'transfer-encoding': 'chunked' }));
    expect((await sweep(false, { ...PATIENT, maxRetries: 3 })).code).toBe('UNAVAILABLE');
  });

  it("verify (the API's check, retries 2) against a 503 whose body stalls: UNAVAILABLE", {
    timeout: 10_000,
  }, async () => {
    raw = (s) => s.write(head('503 Service Unavailable', { 'transfer-encoding': 'chunked' }));
    const run = async (useFetch: boolean) => {
      const client = createVaikoraClient({
        baseUrl: base,
        apiKey: KEY,
        ...PATIENT,
        baseDelayMs: 0,
        maxDelayMs: 0,
        ...(useFetch ? { fetch: viaFetch } : {}),
      });
      return client.verify({ retries: 2, maxRetryAfterMs: 5000 });
    };
    expect(await run(true)).toMatchObject({ ok: false, code: 'UNAVAILABLE' });
    expect(await run(false)).toMatchObject({ ok: false, code: 'UNAVAILABLE' });
  });

  it('503 with a gzip-coded, chunked body of 256 KiB (incompressible), sent whole: UNAVAILABLE without reading it', {
    timeout: 10_000,
  }, async () => {
    const body = gzipSync(randomBytes(256 * 1024));
    raw = (s) => {
      s.write(
        head('503 Service Unavailable', { 'transfer-encoding': 'chunked', 'content-encoding': 'gzip' }),
      );
      s.write(chunk(body));
      s.write('0\r\n\r\n');
    };
    expect((await sweep(true, PATIENT)).code).toBe('UNAVAILABLE');
    expect((await sweep(false, PATIENT)).code).toBe('UNAVAILABLE');
  });

  it('503 with a gzip-coded body and a content-length above 128 KiB: discarded at once (dump limit)', async () => {
    const body = gzipSync(randomBytes(256 * 1024));
    raw = (s) => {
      s.write(head('503 Service Unavailable', { 'content-length': body.length, 'content-encoding': 'gzip' }));
      s.write(body);
    };
    const undici = await sweep(false, { timeoutMs: 3000 });
    expect(undici.code).toBe('UNAVAILABLE');
  });

  it('503 with a corrupt gzip body then a stall: discarded at once (the decoder error tears the pipeline down), nothing unhandled', async () => {
    raw = (s) => {
      s.write(
        head('503 Service Unavailable', { 'transfer-encoding': 'chunked', 'content-encoding': 'gzip' }),
      );
      s.write(chunk(Buffer.alloc(64, 0x41)));
    };
    const undici = await sweep(false, { timeoutMs: 3000 });
    expect(undici.code).toBe('UNAVAILABLE');
    await settle();
    expect(sockets.size).toBe(0);
  });

  it('429 with an endless identity body: discarded after at most 128 KiB, socket freed', async () => {
    raw = (s) => {
      s.write(head('429 Too Many Requests', { 'transfer-encoding': 'chunked', 'retry-after': '0' }));
      const block = chunk(Buffer.alloc(16 * 1024, 0x61));
      const pump = () => {
        while (!s.destroyed && s.write(block)) {}
        if (!s.destroyed) s.once('drain', pump);
      };
      pump();
    };
    const undici = await sweep(false, { timeoutMs: 5000 });
    expect(undici.code).toBe('RATE_LIMITED');
    await settle();
    expect(sockets.size).toBe(0);
  });
});

describe('timeouts and aborts through a decoder', () => {
  it('headers then a stalled gzip body: TIMEOUT within timeoutMs, socket closed', async () => {
    const gz = gzipSync(Buffer.from(PAGE));
    raw = (s) => {
      s.write(head('200 OK', { 'transfer-encoding': 'chunked', 'content-encoding': 'gzip' }));
      s.write(chunk(gz.subarray(0, 20)));
    };
    const undici = await sweep(false, { timeoutMs: 1000 });
    expect(undici.code).toBe('TIMEOUT');
    await settle();
    expect(sockets.size).toBe(0);
  });

  it('a server that accepts and never answers: TIMEOUT within timeoutMs', async () => {
    raw = () => undefined;
    const undici = await sweep(false, { timeoutMs: 1000 });
    expect(undici.code).toBe('TIMEOUT');
    await settle();
    expect(sockets.size).toBe(0);
  });

  it("the caller's abort during a gzip body: its reason, at once, socket closed, nothing unhandled", async () => {
    const gz = gzipSync(Buffer.from(PAGE));
    raw = (s) => {
      s.write(head('200 OK', { 'transfer-encoding': 'chunked', 'content-encoding': 'gzip' }));
      s.write(chunk(gz.subarray(0, 20)));
    };
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('caller stops')), 300);
    const undici = await sweep(false, { timeoutMs: 5000 }, controller.signal);
    expect((undici.reason as Error)?.message).toBe('caller stops');
    await settle();
    expect(sockets.size).toBe(0);
  });

  it('a gzip body corrupt mid-stream on a connection left open: NETWORK at once, socket closed', async () => {
    const gz = gzipSync(Buffer.from(PAGE.repeat(1)));
    raw = (s) => {
      s.write(head('200 OK', { 'transfer-encoding': 'chunked', 'content-encoding': 'gzip' }));
      s.write(chunk(Buffer.concat([gz.subarray(0, 12), Buffer.alloc(64, 0xff)])));
    };
    const undici = await sweep(false, { timeoutMs: 5000 });
    expect(undici.code).toBe('NETWORK');
    await settle();
    expect(sockets.size).toBe(0);
  });

  it('an identity body that fails mid-stream (socket reset inside a chunk): NETWORK', async () => {
    raw = (s) => {
      s.write(head('200 OK', { 'transfer-encoding': 'chunked' }));
      s.write(`100\r\n{"actions":[`);
      setTimeout(() => s.resetAndDestroy(), 50);
    };
    expect((await sweep(false)).code).toBe('NETWORK');
    expect((await sweep(true)).code).toBe('NETWORK');
  });
});

describe('sockets over many requests', () => {
  it('60 sequential pages stopped early (too many records) through gzip: every socket freed', {
    timeout: 20_000,
  }, async () => {
    const records = Array.from({ length: 2000 }, (_, i) => ACTION(i)).join(',');
    const gz = gzipSync(Buffer.from(`{"actions":[${records}],"total":2000}`));
    raw = (s) => {
      s.write(head('200 OK', { 'transfer-encoding': 'chunked', 'content-encoding': 'gzip' }));
      // Half the body, then stall: only the client's early stop can free the socket.
      s.write(chunk(gz.subarray(0, gz.length >> 1)));
    };
    for (let i = 0; i < 60; i++) {
      const out = await sweep(false, { timeoutMs: 5000, perPage: 1, maxRecordsPerPage: 5 });
      expect(out.rejections).toEqual(['PAGE_UNREADABLE']);
    }
    await settle();
    // (undici opens two connections per request here, one never used, through fetch too; both close.)
    expect(sockets.size).toBe(0);
  });

  it('60 sequential small gzip 503s: sockets reused or freed, none piling up', {
    timeout: 20_000,
  }, async () => {
    const gz = gzipSync(Buffer.from('<html>down</html>'));
    raw = (s) => {
      s.write(head('503 Service Unavailable', { 'content-length': gz.length, 'content-encoding': 'gzip' }));
      s.write(gz);
    };
    const count = async (useFetch: boolean) => {
      const before = opened;
      for (let i = 0; i < 60; i++)
        expect((await sweep(useFetch, { timeoutMs: 5000 })).code).toBe('UNAVAILABLE');
      await settle();
      return { opened: opened - before, open: sockets.size };
    };
    const viaF = await count(true);
    const undici = await count(false);
    expect(undici.opened).toBeLessThanOrEqual(viaF.opened + 2);
    expect(undici.open).toBeLessThanOrEqual(2);
  });
});

describe('odd framings', () => {
  it('103 Early Hints before the final 200', async () => {
    raw = (s) => {
      s.write('HTTP/1.1 103 Early Hints\r\nlink: </x>; rel=preload\r\n\r\n');
      s.write(head('200 OK', { 'content-length': Buffer.byteLength(PAGE) }) + PAGE);
    };
    expect((await sweep(false)).ids).toEqual(['act-1']);
  });

  it('HTTP/1.0, gzip, close-delimited body', async () => {
    const gz = gzipSync(Buffer.from(PAGE));
    raw = (s) => {
      s.write(`HTTP/1.0 200 OK\r\ncontent-encoding: gzip\r\nconnection: close\r\n\r\n`);
      s.end(gz);
    };
    expect((await sweep(false)).ids).toEqual(['act-1']);
    expect((await sweep(true)).ids).toEqual(['act-1']);
  });

  it('content-length larger than the body, then close: NETWORK through both', async () => {
    raw = (s) => {
      s.write(head('200 OK', { 'content-length': Buffer.byteLength(PAGE) + 100 }));
      s.end(PAGE);
    };
    expect((await sweep(false)).code).toBe('NETWORK');
    expect((await sweep(true)).code).toBe('NETWORK');
  });

  it('content-length smaller than the body: compare', async () => {
    raw = (s) => {
      s.write(head('200 OK', { 'content-length': Buffer.byteLength(PAGE) - 5 }));
      s.write(PAGE);
    };
    const undici = await sweep(false);
    const viaF = await sweep(true);
    expect(undici.rejections ?? undici.code).toEqual(viaF.rejections ?? viaF.code);
  });

  it('a 20 KiB header block: NETWORK through both, key never in the error', async () => {
    raw = (s) => {
      s.write(
        head('200 OK', { 'x-pad': 'a'.repeat(20 * 1024), 'content-length': Buffer.byteLength(PAGE) }) + PAGE,
      );
    };
    expect((await sweep(false)).code).toBe('NETWORK');
    expect((await sweep(true)).code).toBe('NETWORK');
  });

  it('an answer that echoes the request (with the key) as a broken status line: key never in the error', async () => {
    raw = (s, request) => {
      s.write(`HTTP/1.1 200 ${request.replace(/\r\n/g, ' ')}\r\nbroken header ${request}\r\n\r\n`);
    };
    const out = await sweep(false);
    expect(out.code).toBe('NETWORK');
    expect(out.json).not.toContain(KEY);
  });

  it('a 307 to elsewhere is not followed', async () => {
    let requests = 0;
    raw = (s) => {
      requests++;
      s.write(head('307 Temporary Redirect', { location: `${base}/elsewhere`, 'content-length': 0 }));
    };
    const out = await sweep(false);
    expect(out.code).toBeDefined();
    expect(requests).toBe(1);
  });
});
