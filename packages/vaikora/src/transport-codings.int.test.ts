import type { IncomingMessage, ServerResponse } from 'node:http';
import { brotliCompressSync, deflateRawSync, gzipSync, zstdCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVaikoraClient, type VaikoraPage } from './client.ts';
import { VaikoraError } from './errors.ts';
import { listen } from './http.test-support.ts';

/**
 * Content codings a hostile or broken Vaikora sends unasked (ADR 0139), through the worker's default
 * transport (undici's `request`) and through a caller's `fetch` (the transport before): the worker must
 * read every page fetch reads, the same way. Written by a review of the first version, which passed
 * zstd and raw deflate on undecoded, failed a gzip body missing only its trailer, and decoded a chain
 * of 2000 codings past the attempt's timeout and the caller's abort.
 */

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const KEY = 'vk_test_codings_secret_key';

const PAGE = JSON.stringify({
  actions: [{ id: 'act-1', agent_id: 'agt', timestamp: '2026-12-05T10:00:00.000Z', risk_level: 'high' }],
  total: 1,
});

let handler: Handler = (_req, res) => res.end();
let base = '';
let stop: () => Promise<void> = async () => undefined;

beforeAll(async () => {
  ({ base, stop } = await listen((req, res) => handler(req, res)));
});
afterAll(() => stop());

type Outcome =
  | { kind: 'pages'; ids: string[]; rejections: string[] }
  | { kind: 'error'; code: string; message: string; json: string };

const viaFetch = (input: string, init: RequestInit) => fetch(input, init);

async function sweep(useFetch: boolean, extra: Record<string, unknown> = {}): Promise<Outcome> {
  const client = createVaikoraClient({
    baseUrl: base,
    apiKey: KEY,
    maxRetries: 0,
    ...(useFetch ? { fetch: viaFetch } : {}),
    ...extra,
  });
  const pages: VaikoraPage[] = [];
  try {
    for await (const page of client.sweep({ stopBeforeMs: 0, maxPages: 1 })) pages.push(page);
  } catch (error) {
    if (!(error instanceof VaikoraError)) throw error;
    return { kind: 'error', code: error.code, message: error.message, json: JSON.stringify(error) };
  }
  return {
    kind: 'pages',
    ids: pages.flatMap((p) => p.actions.map((a) => a.id)),
    rejections: pages.flatMap((p) => p.rejections.map((r) => r.code)),
  };
}

const both = async (extra: Record<string, unknown> = {}) => ({
  undici: await sweep(false, extra),
  fetch: await sweep(true, extra),
});

const serve = (headers: Record<string, string>, body: Buffer) => {
  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(body);
  };
};

describe('content codings: the worker transport reads what fetch reads', () => {
  it('zstd', async () => {
    serve({ 'content-encoding': 'zstd' }, zstdCompressSync(Buffer.from(PAGE)));
    const { undici, fetch: viaF } = await both();
    expect(viaF).toEqual({ kind: 'pages', ids: ['act-1'], rejections: [] });
    expect(undici).toEqual(viaF);
  });

  it('zstd on the first page of a list: its action delivered, the sweep complete', async () => {
    const empty = JSON.stringify({ actions: [], total: 1 });
    handler = (req, res) => {
      const page = new URL(req.url ?? '/', base).searchParams.get('page');
      if (page === '1') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'zstd' });
        res.end(zstdCompressSync(Buffer.from(PAGE)));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(empty);
      }
    };
    const run = async (useFetch: boolean) => {
      const client = createVaikoraClient({
        baseUrl: base,
        apiKey: KEY,
        maxRetries: 0,
        ...(useFetch ? { fetch: viaFetch } : {}),
      });
      const pages: VaikoraPage[] = [];
      for await (const page of client.sweep({ stopBeforeMs: 0, maxPages: 10 })) pages.push(page);
      return {
        ids: pages.flatMap((p) => p.actions.map((a) => a.id)),
        stop: pages.at(-1)?.stop,
        rejections: pages.flatMap((p) => p.rejections.map((r) => r.code)),
      };
    };
    expect(await run(true)).toEqual({ ids: ['act-1'], stop: 'end', rejections: [] });
    expect(await run(false)).toEqual({ ids: ['act-1'], stop: 'end', rejections: [] });
  });

  it.each([
    [
      'raw deflate (no zlib header, as many servers send "deflate")',
      'deflate',
      () => deflateRawSync(Buffer.from(PAGE)),
    ],
    [
      'gzip without its 8-byte trailer (the whole JSON inside)',
      'gzip',
      () => gzipSync(Buffer.from(PAGE)).subarray(0, -8),
    ],
    ['gzip cut inside the JSON', 'gzip', () => gzipSync(Buffer.from(PAGE)).subarray(0, -30)],
    ['br cut at its last byte', 'br', () => brotliCompressSync(Buffer.from(PAGE)).subarray(0, -1)],
    ['gzip with an empty body', 'gzip', () => Buffer.alloc(0)],
  ])('%s', async (_name, encoding, body) => {
    serve({ 'content-encoding': encoding }, body());
    const { undici, fetch: viaF } = await both();
    expect(undici).toEqual(viaF);
  });

  it('a 204 saying gzip: nothing decoded, as fetch', async () => {
    handler = (_req, res) => {
      res.writeHead(204, { 'content-encoding': 'gzip' });
      res.end();
    };
    const { undici, fetch: viaF } = await both();
    expect(undici).toEqual(viaF);
  });

  it.each([['GZIP'], [' gzip '], ['gzip,'], [',gzip'], ['gzip, , '], ['identity, gzip'], ['gzip, identity']])(
    'content-encoding %j: read (fetch refuses some of these spellings; the worker is never stricter)',
    async (value) => {
      serve({ 'content-encoding': value }, gzipSync(Buffer.from(PAGE)));
      const { undici, fetch: viaF } = await both();
      expect(undici).toEqual({ kind: 'pages', ids: ['act-1'], rejections: [] });
      if (viaF.kind === 'pages' && viaF.ids.length > 0) expect(undici).toEqual(viaF);
    },
  );
});

describe('a long chain of content codings: refused beyond 5, as fetch does (CVE-2022-32206-like)', () => {
  it('content-encoding: gzip x 2000 over a body gzipped that many times (53 KB on the wire)', {
    timeout: 60_000,
  }, async () => {
    const layers = 2000;
    let body = Buffer.from(PAGE);
    for (let i = 0; i < layers; i++) body = gzipSync(body, { level: 1 });
    serve({ 'content-encoding': Array.from({ length: layers }, () => 'gzip').join(',') }, body);
    const { undici, fetch: viaF } = await both();
    expect(viaF).toMatchObject({ kind: 'error', code: 'NETWORK' });
    expect(undici).toMatchObject({ kind: 'error', code: 'NETWORK' });
  });

  it('content-encoding: br x 5000 over a body that is not brotli', async () => {
    serve({ 'content-encoding': Array.from({ length: 5000 }, () => 'br').join(',') }, Buffer.from(PAGE));
    const { undici, fetch: viaF } = await both();
    expect(undici).toMatchObject({ kind: 'error', code: 'NETWORK' });
    expect(viaF).toMatchObject({ kind: 'error', code: 'NETWORK' });
  });

  it('five codings are still read', async () => {
    let body = Buffer.from(PAGE);
    for (let i = 0; i < 5; i++) body = gzipSync(body);
    serve({ 'content-encoding': 'gzip, gzip, gzip, gzip, gzip' }, body);
    const { undici, fetch: viaF } = await both();
    expect(viaF).toEqual({ kind: 'pages', ids: ['act-1'], rejections: [] });
    expect(undici).toEqual(viaF);
  });
});
