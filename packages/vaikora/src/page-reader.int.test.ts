import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createVaikoraClient, type VaikoraPage } from './client.ts';

const KEY = 'vk_test_hostile_4e1d9a';
const MiB = 1024 * 1024;
const T0 = Date.UTC(2026, 6, 1);
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

/** Writes `bytes` of `{"actions":[{},{},...]}` lazily, honouring backpressure, until the client hangs up. */
async function streamTinyRecords(res: ServerResponse, bytes: number, sent: { bytes: number }): Promise<void> {
  const filler = Buffer.from('{},'.repeat(65_536 / 3));
  let open = true;
  res.on('close', () => {
    open = false;
  });
  const write = (chunk: Buffer) =>
    new Promise<void>((resolve) => {
      sent.bytes += chunk.byteLength;
      if (res.write(chunk)) resolve();
      else {
        // Whichever comes first; the other listener goes too (else one 'close' listener a chunk piles up).
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.once('drain', done);
        res.once('close', done);
      }
    });
  res.writeHead(200, { 'content-type': 'application/json' });
  await write(Buffer.from('{"actions":['));
  for (let left = bytes; left > filler.byteLength && open; left -= filler.byteLength) await write(filler);
  if (open) res.end('{}]}');
}

const action = (id: string, ms: number) => ({
  id,
  timestamp: new Date(ms).toISOString(),
  risk_level: 'high',
});

/** A Vaikora stand-in: page 1 is 64 MiB of tiny records, page 2 holds a 5,000,000-deep record among good ones. */
async function hostileVaikora() {
  const sent = { bytes: 0 };
  const requests: string[] = [];
  const deep = `{"a":${'['.repeat(5_000_000)}${']'.repeat(5_000_000)}}`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(url.search);
    if (req.headers['x-api-key'] !== KEY) {
      res.writeHead(401).end('{"error":"unauthorized"}');
      return;
    }
    const page = url.searchParams.get('page');
    if (page === '1') {
      void streamTinyRecords(res, 64 * MiB - 1024, sent);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    if (page === '2') {
      const good = [action('a-0', T0), action('a-1', T0 - 1000)].map((a) => JSON.stringify(a));
      res.end(`{"actions":[${good[0]},${deep},${good[1]}],"total":1000003,"per_page":3}`);
    } else res.end('{"actions":[]}');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}/api/v1`, sent, requests, deep };
}

describe('the page reader against a hostile Vaikora over HTTP', () => {
  it('cuts a 64 MiB page of tiny records short, keeps the deep record from poisoning its page, and ends the sweep', async () => {
    const vaikora = await hostileVaikora();
    const client = createVaikoraClient({ baseUrl: vaikora.baseUrl, apiKey: KEY, perPage: 3, maxRetries: 0 });
    const pages: VaikoraPage[] = [];

    for await (const page of client.sweep({ stopBeforeMs: 0 })) pages.push(page);

    expect(
      pages.map((p) => [p.page, p.actions.map((a) => a.id), p.rejections.map((r) => r.code), p.stop]),
    ).toEqual([
      [1, [], ['PAGE_UNREADABLE'], null],
      [2, ['a-0', 'a-1'], ['RECORD_TOO_DEEP'], null],
      [3, [], [], 'end'],
    ]);
    expect(pages[0]?.rejections[0]?.reason).toBe('Vaikora answered a page with more than 1000 records');
    expect(pages[1]?.rejections[0]?.raw).toBe(vaikora.deep.slice(0, 2048));
    // The server stops once the client hangs up: what it sent is socket buffers, not the page.
    expect(vaikora.sent.bytes).toBeLessThan(16 * MiB);
  });

  it('answers verify with BAD_RESPONSE naming the bound, without reading the page', async () => {
    const vaikora = await hostileVaikora();
    const client = createVaikoraClient({ baseUrl: vaikora.baseUrl, apiKey: KEY });

    const result = await client.verify({ retries: 2 });

    expect(result).toEqual({
      ok: false,
      code: 'BAD_RESPONSE',
      message: 'Vaikora answered a page with more than 1000 records',
    });
    expect(vaikora.requests).toHaveLength(1);
    expect(vaikora.sent.bytes).toBeLessThan(16 * MiB);
  });
});
