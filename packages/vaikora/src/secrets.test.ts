import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createVaikoraClient, type VaikoraClient } from './client.ts';
import { VaikoraError } from './errors.ts';
import type { FetchLike, VaikoraRequestEvent } from './options.ts';

const BASE = 'https://vaikora.test/api/v1';

/** Keys shaped like Vaikora's, long enough that no message contains one by chance. */
const apiKeys = fc
  .tuple(
    fc.constantFrom('vk_live_', 'vk_test_'),
    fc.string({
      unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'),
      minLength: 16,
      maxLength: 64,
    }),
  )
  .map(([prefix, body]) => prefix + body);

/** Every way a failure can be rendered into a log line. */
function renderings(error: unknown): string[] {
  return [
    String(error),
    JSON.stringify(error),
    inspect(error, { depth: 10, showHidden: true }),
    error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : '',
  ];
}

function clientRenderings(client: VaikoraClient): string[] {
  return [
    String(client),
    `${client}`,
    JSON.stringify(client),
    inspect(client, { depth: 10, showHidden: true }),
  ];
}

async function caught(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

const json = (body: unknown, status: number) => new Response(JSON.stringify(body), { status });

/** Server answers that echo the key back in every place a careless client would copy from. */
const echoingFailures: ((key: string) => FetchLike)[] = [
  (key) => async () => json({ error: `invalid key ${key}` }, 401),
  (key) => async () => json({ error: `key ${key} may not` }, 403),
  (key) => async () => new Response(`upstream said ${key}`, { status: 503, headers: { 'x-echo': key } }),
  (key) => async () => json({ error: key }, 429),
  (key) => async () => new Response(`<html>${key}</html>`, { status: 200 }),
  (key) => async () => {
    throw new TypeError(`fetch failed for ${key}`, {
      cause: Object.assign(new Error(`Headers.append: "${key}" is an invalid header value`), {
        code: `ERR_${key}`,
        headers: { 'x-api-key': key },
      }),
    });
  },
  () => async (_input, init) =>
    new Promise<Response>((_resolve, reject) => {
      init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
    }),
];

describe('the API key never leaks', () => {
  it('from any error, event or rendering of the client, whatever the server echoes', async () => {
    await fc.assert(
      fc.asyncProperty(
        apiKeys,
        fc.integer({ min: 0, max: echoingFailures.length - 1 }),
        async (key, which) => {
          const failing = echoingFailures[which];
          if (failing === undefined) throw new Error('no such failure');
          const events: VaikoraRequestEvent[] = [];
          const client = createVaikoraClient({
            baseUrl: BASE,
            apiKey: key,
            fetch: failing(key),
            maxRetries: 1,
            timeoutMs: 5,
            sleep: async () => undefined,
            onRequest: (event) => events.push(event),
          });

          const sweepError = await caught(async () => {
            for await (const _page of client.sweep({ agentId: 'agt-1', stopBeforeMs: 0 })) {
              // draining is the act
            }
          });
          const verified = await client.verify();

          expect(sweepError).toBeInstanceOf(VaikoraError);
          for (const text of [
            ...renderings(sweepError),
            ...clientRenderings(client),
            JSON.stringify(verified),
            JSON.stringify(events),
          ]) {
            expect(text).not.toContain(key);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('from a configuration error about the key itself', () => {
    fc.assert(
      fc.property(apiKeys, fc.constantFrom('\n', ' ', '\u0000', 'é', '\r\nX-Injected: 1'), (key, bad) => {
        const invalid = `${key}${bad}${key}`;

        let error: unknown;
        try {
          createVaikoraClient({ baseUrl: BASE, apiKey: invalid });
        } catch (thrown) {
          error = thrown;
        }

        expect(error).toMatchObject({ code: 'INVALID_CONFIG' });
        for (const text of renderings(error)) expect(text).not.toContain(key);
      }),
    );
  });
});
