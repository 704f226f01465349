import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, createDeflate, createDeflateRaw, createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVaikoraClient, type VaikoraPage } from './client.ts';
import { VaikoraError } from './errors.ts';
import { listen } from './http.test-support.ts';

/**
 * Hostile answers over real HTTP, through the client's default transport (undici's `request`, ADR
 * 0139): a gzip bomb, a trickled body, a redirect to another host. Each passed when written; they are
 * kept because the unit tests script `fetch` and never exercise the transport's decompression, body
 * timeout or redirect handling.
 */

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const KEY = 'vk_test_probe_http_secret';

describe('hostile probe: the Vaikora client over real HTTP', () => {
  let handler: Handler = (_req, res) => res.end();
  const seenByOther: { key: string | undefined }[] = [];
  let main: Awaited<ReturnType<typeof listen>>;
  let other: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    main = await listen((req, res) => handler(req, res));
    other = await listen((req, res) => {
      const key = req.headers['x-api-key'];
      seenByOther.push({ key: typeof key === 'string' ? key : undefined });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"actions":[],"total":0}');
    });
  });
  afterAll(async () => {
    await main?.stop();
    await other?.stop();
  });

  const client = (extra: Record<string, unknown> = {}) =>
    createVaikoraClient({ baseUrl: main.base, apiKey: KEY, maxRetries: 0, ...extra });

  const drain = async (c: ReturnType<typeof client>) => {
    const pages: VaikoraPage[] = [];
    for await (const p of c.sweep({ stopBeforeMs: 0, maxPages: 1 })) pages.push(p);
    return pages;
  };

  it.each([
    ['gzip', 'gzip', () => createGzip({ level: constants.Z_BEST_SPEED })],
    ['deflate', 'deflate', () => createDeflate({ level: constants.Z_BEST_SPEED })],
    // Raw deflate (no zlib header) goes through the transport's own inflater (ADR 0139), which must
    // keep the back-pressure the others get from the pipeline.
    ['raw deflate', 'deflate', () => createDeflateRaw({ level: constants.Z_BEST_SPEED })],
  ] as const)(
    'reads a %s bomb (1 GiB of JSON whitespace, a few MB compressed) only up to maxResponseBytes',
    {
      timeout: 60_000,
    },
    async (_name, encoding, compressor) => {
      let written = 0;
      handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding });
        const gz = compressor();
        gz.pipe(res);
        const block = Buffer.alloc(1024 * 1024, 0x20);
        gz.write('{"actions":[');
        const pump = () => {
          while (written < 1024 && !res.destroyed) {
            written++;
            if (!gz.write(block)) {
              gz.once('drain', pump);
              return;
            }
          }
          if (!res.destroyed) gz.end(']}');
        };
        res.on('close', () => gz.destroy());
        pump();
      };
      const rssBefore = process.memoryUsage().rss;
      const pages = await drain(client());
      const grewMb = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;

      expect(pages[0]?.rejections[0]?.code).toBe('PAGE_UNREADABLE');
      expect(written).toBeLessThan(1024);
      expect(grewMb).toBeLessThan(200);
    },
  );

  it('gives up on a body trickled a byte at a time within the per-attempt timeout', {
    timeout: 30_000,
  }, async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const text = `{"actions":[${'{"id":"x","timestamp":"2026-01-01T00:00:00Z"},'.repeat(1000)}{}]}`;
      let i = 0;
      const timer = setInterval(() => {
        if (res.destroyed || i >= text.length) {
          clearInterval(timer);
          if (!res.destroyed) res.end();
          return;
        }
        res.write(text[i++]);
      }, 50);
      res.on('close', () => clearInterval(timer));
    };
    const started = performance.now();
    const error = await drain(client({ timeoutMs: 1500 })).catch((e: unknown) => e);
    const took = performance.now() - started;

    expect(error).toBeInstanceOf(VaikoraError);
    expect((error as VaikoraError).code).toBe('TIMEOUT');
    expect(took).toBeLessThan(5000);
  });

  it('does not follow a 302 to another host, so the key never leaves', async () => {
    handler = (_req, res) => {
      res.writeHead(302, { location: `${other.base}/actions?page=1` });
      res.end();
    };
    const error = await drain(client()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(VaikoraError);
    expect((error as VaikoraError).retryable).toBe(false);
    expect(seenByOther).toEqual([]);
  });

  it.each([
    ['an absurd delta', '99999999999'],
    ['a date far in the future', 'Fri, 31 Dec 9999 23:59:59 GMT'],
  ])('ends at once on a 429 whose Retry-After is %s, rather than sleeping on it', async (_n, value) => {
    handler = (_req, res) => {
      res.writeHead(429, { 'retry-after': value });
      res.end();
    };
    const started = performance.now();
    const error = await drain(client({ maxRetries: 3 })).catch((e: unknown) => e);

    expect((error as VaikoraError).code).toBe('RATE_LIMITED');
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
