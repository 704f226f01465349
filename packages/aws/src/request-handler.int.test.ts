import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { timedPool, timedRequestHandler } from './request-handler.ts';

const CREDENTIALS = { accessKeyId: 'AKIDREQUESTHANDLER', secretAccessKey: 'request-handler-test-secret' };
const ITEM = JSON.stringify({ Item: { pk: { S: 'TENANT#t' }, sk: { S: 'LEASE' } } });

/**
 * A DynamoDB-shaped server that answers every request with one item; the first `hold` requests it holds
 * unanswered, or (`midBody`) answers with headers and half a body, then stalls or cuts the connection.
 */
async function server(options: { hold?: number; midBody?: 'stall' | 'cut' } = {}) {
  let requests = 0;
  let connections = 0;
  const held: ServerResponse[] = [];
  const http = createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      if (requests <= (options.hold ?? 0)) {
        if (options.midBody !== undefined) {
          res.writeHead(200, {
            'content-type': 'application/x-amz-json-1.0',
            'content-length': String(Buffer.byteLength(ITEM)),
          });
          res.write(ITEM.slice(0, 10));
          if (options.midBody === 'cut') {
            res.socket?.destroy();
            return;
          }
        }
        held.push(res);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(ITEM);
    });
  });
  http.on('connection', () => connections++);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const getItem = new GetItemCommand({ TableName: 't', Key: { pk: { S: 'TENANT#t' }, sk: { S: 'LEASE' } } });

/** A DynamoDB client on `endpoint` through `requestHandler`, destroyed after the test. */
function clientOf(endpoint: string, requestHandler: ReturnType<typeof timedRequestHandler>, maxAttempts = 3) {
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint,
    credentials: CREDENTIALS,
    maxAttempts,
    requestHandler,
  });
  cleanups.push(() => client.destroy());
  return client;
}

describe('timedRequestHandler (ADR 0129, undici)', () => {
  it('fails a call that is not answered in time, naming the limit, and the SDK retries it as transient', async () => {
    const s = await server({ hold: 2 });
    cleanups.push(s.close);
    const client = clientOf(s.endpoint, timedRequestHandler(300));

    // Two attempts held past the timeout, the third answered: the call succeeds, after 3 requests.
    const output = await client.send(getItem);
    expect(output.Item?.pk?.S).toBe('TENANT#t');
    expect(output.$metadata.attempts).toBe(3);
    expect(s.requests).toBe(3);

    const failing = await server({ hold: 10 });
    cleanups.push(failing.close);
    const once = clientOf(failing.endpoint, timedRequestHandler(300), 1);
    const err = await once.send(getItem).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'TimeoutError' });
    expect((err as Error).message).toMatch(/^no answer from 127\.0\.0\.1 within 300 ms/);
  });

  it('retries an answer whose body stalls, or whose connection closes mid-body, as the SDK retries a timeout', async () => {
    for (const midBody of ['stall', 'cut'] as const) {
      const s = await server({ hold: 2, midBody });
      cleanups.push(s.close);
      const client = clientOf(s.endpoint, timedRequestHandler(300));

      const output = await client.send(getItem);

      expect(output.Item?.pk?.S, midBody).toBe('TENANT#t');
      expect(output.$metadata.attempts, midBody).toBe(3);
    }
    const stalled = await server({ hold: 10, midBody: 'stall' });
    cleanups.push(stalled.close);
    const err = await clientOf(stalled.endpoint, timedRequestHandler(300), 1)
      .send(getItem)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'TimeoutError' });
    expect((err as Error).message).toMatch(/^no answer from 127\.0\.0\.1 within 300 ms/);
  });

  it('keeps its connection for the next calls (no new connection per call)', async () => {
    const s = await server();
    cleanups.push(s.close);
    const client = clientOf(s.endpoint, timedRequestHandler(1_000));
    for (let i = 0; i < 20; i++) await client.send(getItem);
    expect(s.requests).toBe(20);
    // undici may open a second one while the first is finishing its answer, never one per call.
    expect(s.connections).toBeLessThanOrEqual(2);
  });

  it('shares one pool between the clients given it, and works again after a client closed its own', async () => {
    const s = await server();
    cleanups.push(s.close);
    const pool = timedPool(1_000);
    cleanups.push(() => pool.destroy());
    const clients = [1, 2, 3].map(() =>
      clientOf(s.endpoint, timedRequestHandler(1_000, { dispatcher: pool })),
    );
    for (const client of clients) for (let i = 0; i < 5; i++) await client.send(getItem);
    expect(s.requests).toBe(15);
    expect(s.connections).toBeLessThanOrEqual(2);
    // A client destroyed leaves the shared pool to the others.
    clients[0]?.destroy();
    await expect(clients[1]?.send(getItem)).resolves.toMatchObject({ Item: { pk: { S: 'TENANT#t' } } });

    // A handler with a pool of its own makes it again at its next call after being destroyed.
    const handler = timedRequestHandler(1_000);
    const own = clientOf(s.endpoint, handler);
    await own.send(getItem);
    handler.destroy();
    await expect(own.send(getItem)).resolves.toMatchObject({ Item: { pk: { S: 'TENANT#t' } } });
  });
});
