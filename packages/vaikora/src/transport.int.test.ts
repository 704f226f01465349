import type { IncomingMessage, ServerResponse } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVaikoraClient } from './client.ts';
import { listen } from './http.test-support.ts';
import { fetchTransport, type PageTransport, undiciTransport } from './transport.ts';

/**
 * The two transports of the client (ADR 0139) over real HTTP: the worker's (undici's `request`) and a
 * caller's `fetch`. Each answer must reach the client the same through both.
 */

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const PAGE = JSON.stringify({
  actions: [{ id: 'act-1', agent_id: 'agt', timestamp: '2026-12-05T10:00:00.000Z', risk_level: 'high' }],
  total: 1,
});

const transports: [string, () => PageTransport][] = [
  ['undici request (the worker)', () => undiciTransport()],
  ['fetch (a caller)', () => fetchTransport((input, init) => fetch(input, init))],
];

describe.each(transports)('the page transport: %s', (_name, make) => {
  let handler: Handler = (_req, res) => res.end();
  const requests: IncomingMessage[] = [];
  const closed: string[] = [];
  let base = '';
  let stop: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    ({ base, stop } = await listen((req, res) => {
      requests.push(req);
      req.socket.once('close', () => closed.push(req.url ?? ''));
      handler(req, res);
    }));
  });
  afterAll(() => stop());

  const get = (path: string) =>
    make()({
      url: `${base}${path}`,
      headers: { 'X-API-Key': 'k', Accept: 'application/json' },
      signal: new AbortController().signal,
    });
  const text = async (body: AsyncIterable<Uint8Array> | null) => {
    const parts: Buffer[] = [];
    for await (const chunk of body ?? []) parts.push(Buffer.from(chunk));
    return Buffer.concat(parts).toString('utf8');
  };

  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const)('decodes a body the server compressed unasked with %s', async (encoding, compress) => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding });
      res.end(compress(Buffer.from(PAGE)));
    };
    const response = await get('/compressed');
    expect(response.status).toBe(200);
    expect(await text(response.body)).toBe(PAGE);
  });

  it('decodes a body compressed twice (content-encoding: gzip, br), the last coding first', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip, br' });
      res.end(brotliCompressSync(gzipSync(Buffer.from(PAGE))));
    };
    expect(await text((await get('/twice')).body)).toBe(PAGE);
  });

  it('passes on a body one of whose codings it does not know as it came', async () => {
    const raw = gzipSync(Buffer.from(PAGE));
    handler = (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip, x-unknown' });
      res.end(raw);
    };
    expect(await text((await get('/mixed')).body)).toBe(raw.toString('utf8'));
  });

  it('passes on a body in an encoding it does not know as it came', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'x-unknown' });
      res.end('raw bytes');
    };
    expect(await text((await get('/unknown')).body)).toBe('raw bytes');
  });

  it('reads a header and discards an error body', async () => {
    handler = (_req, res) => {
      res.writeHead(429, { 'retry-after': '7', 'content-type': 'text/plain' });
      res.end('slow down '.repeat(10_000));
    };
    const response = await get('/limited');
    expect(response.status).toBe(429);
    expect(response.header('Retry-After')).toBe('7');
    await response.discard();
  });

  it('follows no redirect', async () => {
    handler = (req, res) => {
      if (req.url === '/moved') {
        res.writeHead(302, { location: `${base}/elsewhere` });
        res.end();
      } else res.end('followed');
    };
    const before = requests.length;
    const response = await get('/moved');
    expect(response.status).toBe(302);
    await response.discard();
    expect(requests.slice(before).map((r) => r.url)).toEqual(['/moved']);
  });

  it('gives the client the same page as the other transport', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(Buffer.from(PAGE)));
    };
    const viaFetch = (input: string, init: RequestInit) => fetch(input, init);
    const pages = async (options: { fetch?: typeof viaFetch }) => {
      const client = createVaikoraClient({
        baseUrl: base,
        apiKey: 'vk_transport',
        maxRetries: 0,
        ...options,
      });
      const out: unknown[] = [];
      for await (const page of client.sweep({ stopBeforeMs: 0, maxPages: 1 })) out.push(page.actions);
      return out;
    };
    const expected = await pages({ fetch: viaFetch });
    expect(expected).toEqual([[expect.objectContaining({ id: 'act-1' })]]);
    expect(await pages({})).toEqual(expected);
  });

  it('frees the connection of a body read only in part', async () => {
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // Much more than the client reads: the rest must not keep the socket busy.
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const push = () => {
        while (sent < 64 && res.write(chunk)) sent++;
        if (sent < 64) res.once('drain', push);
        else res.end();
      };
      req.socket.setNoDelay(true);
      push();
    };
    const response = await get('/huge');
    const chunks = response.body?.[Symbol.asyncIterator]();
    expect((await chunks?.next())?.done).toBe(false);
    await chunks?.return?.();
    await expect.poll(() => closed.includes('/huge'), { timeout: 5000 }).toBe(true);
  });
});

describe('the worker transport asks for no compression', () => {
  it('sends no accept-encoding (the decoded bytes are what the page bound counts)', async () => {
    let seen: string | undefined = 'unset';
    const server = await listen((req, res) => {
      seen = req.headers['accept-encoding'];
      res.end('{}');
    });
    const url = `${server.base}/x`;
    const response = await undiciTransport()({ url, headers: {}, signal: new AbortController().signal });
    await response.discard();
    await server.stop();
    expect(seen).toBeUndefined();
  });
});
