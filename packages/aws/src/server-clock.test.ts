import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type HttpRequest, HttpResponse } from '@smithy/protocol-http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createServerClock } from './server-clock.ts';
import { createStateStore } from './state-store.ts';

describe('createServerClock (ADR 0135)', () => {
  const at = (ms: number) => new Date(ms).toUTCString();

  it('is the local clock until an answer is read, then the local clock plus the offset the Date headers show', () => {
    let local = 1_000_000;
    const clock = createServerClock(() => local);
    expect([clock.now(), clock.sampled()]).toEqual([1_000_000, false]);
    // The service is 2 minutes ahead; its Date header is whole seconds, the answer took 40 ms.
    const service = local + 120_000 + 300;
    clock.observe(at(service), local, local + 40);
    expect(clock.sampled()).toBe(true);
    expect(Math.abs(clock.offsetMs() - 120_000)).toBeLessThanOrEqual(1_000);
    local += 5_000;
    expect(Math.abs(clock.now() - (local + 120_000))).toBeLessThanOrEqual(1_000);
  });

  it('keeps the local clock exactly while it agrees with the service (no rounding of the header moves it)', () => {
    let local = 7_000_250;
    const clock = createServerClock(() => local);
    for (let i = 0; i < 5; i++) {
      clock.observe(at(local + 10), local, local + 30);
      local += 1_337;
    }
    expect(clock.offsetMs()).toBe(0);
  });

  it('narrows the offset with answers at different fractions of a second, and starts again when the local clock is set', () => {
    let local = 9_000_000;
    const clock = createServerClock(() => local);
    // The service is 60.4 s behind; answers come every 130 ms and take 20 ms.
    for (let i = 0; i < 16; i++) {
      clock.observe(at(local + 10 - 60_400), local, local + 20);
      local += 130;
    }
    expect(Math.abs(clock.offsetMs() + 60_400)).toBeLessThanOrEqual(60);
    // The local clock is set right: the next answers contradict the interval, which starts again once
    // two of them agree.
    local -= 60_400;
    clock.observe(at(local + 10), local, local + 20);
    expect(Math.abs(clock.offsetMs() + 60_400)).toBeLessThanOrEqual(60);
    local += 130;
    clock.observe(at(local + 10), local, local + 20);
    expect(clock.offsetMs()).toBe(0);
  });

  it('ignores an answer without a usable Date header', () => {
    const clock = createServerClock(() => 0);
    clock.observe(undefined, 0, 10);
    clock.observe('not a date', 0, 10);
    clock.observe(at(50_000), 10, 0);
    expect([clock.sampled(), clock.offsetMs()]).toEqual([false, 0]);
  });
});

// The review of ADR 0135's first version: each of these failed on deb700d. A DynamoDB in memory behind
// a real client, whose answers carry a whole-second Date header and a request id, as AWS's do.

/** The true time (the service's): the monotonic clock, which no wall-clock step moves. */
const trueNow = () => performance.timeOrigin + performance.now();

/**
 * A DynamoDB of one table in memory, on the true clock: its answers carry a whole-second Date header.
 * Only what a lease acquisition sends: GetItem (answers no item, or fails) and
 * the acquisition's conditional UpdateItem.
 */
function fakeDynamo(options: { getItemFails?: boolean } = {}) {
  const leases = new Map<string, { owner: string; epoch: number; exp: number }>();
  const answer = (status: number, body: unknown, extra: Record<string, string> = {}) => ({
    response: new HttpResponse({
      statusCode: status,
      headers: {
        date: new Date(trueNow()).toUTCString(),
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': 'R1',
        ...extra,
      },
      body: new Uint8Array(Buffer.from(JSON.stringify(body))),
    }),
  });
  const requestHandler = {
    async handle(request: HttpRequest) {
      const target = String(request.headers['x-amz-target'] ?? '');
      const input = JSON.parse(String(request.body));
      if (target.endsWith('.GetItem')) {
        if (options.getItemFails) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        return answer(200, {});
      }
      if (target.endsWith('.UpdateItem')) {
        const v = input.ExpressionAttributeValues;
        const pk = input.Key.pk.S as string;
        const now = Number(v[':now'].N);
        const owner = v[':owner'].S as string;
        const held = leases.get(pk);
        if (held !== undefined && !(held.exp <= now || held.owner === owner)) {
          return answer(
            400,
            { __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException', message: 'held' },
            { 'x-amzn-errortype': 'ConditionalCheckFailedException' },
          );
        }
        const item = { owner, epoch: (held?.epoch ?? 0) + 1, exp: Number(v[':exp'].N) };
        leases.set(pk, item);
        return answer(200, {
          Attributes: {
            pk: { S: pk },
            owner: { S: item.owner },
            epoch: { N: String(item.epoch) },
            leaseExpiresAtMs: { N: String(item.exp) },
          },
        });
      }
      throw new Error(`unexpected call ${target}`);
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  const client = () =>
    new DynamoDBClient({
      region: 'us-east-1',
      endpoint: 'http://dynamo.test',
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
      maxAttempts: 1,
      requestHandler,
    });
  return { client };
}

const TTL = 20_000;
const SKEW = 2 * 60_000;

describe('leases by the service clock: what the review found (ADR 0135)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a worker 2 minutes ahead starting with two tenants at once takes neither lease while another holds it', async () => {
    const dynamo = fakeDynamo();
    const honest = createStateStore({
      client: dynamo.client(),
      tableName: 't',
      serverClock: createServerClock(),
    });
    expect(await honest.acquireLease('held', 'worker-a#run-1', TTL)).not.toBeNull();

    // A fresh process (its first leases), its clock 2 minutes ahead, given two tenants at once.
    const ahead = createStateStore({
      client: dynamo.client(),
      tableName: 't',
      serverClock: createServerClock(() => Date.now() + SKEW),
    });
    const [, taken] = await Promise.all([
      ahead.acquireLease('other', 'worker-b#run-1', TTL),
      ahead.acquireLease('held', 'worker-b#run-2', TTL),
    ]);
    expect(taken).toBeNull();
  });

  it('a worker 2 minutes ahead whose first GetItem got no answer takes no held lease (ADR: no lease before one answer)', async () => {
    const good = fakeDynamo();
    const honest = createStateStore({
      client: good.client(),
      tableName: 't',
      serverClock: createServerClock(),
    });
    expect(await honest.acquireLease('held', 'worker-a#run-1', TTL)).not.toBeNull();
    // Same table; the other worker's first GetItem fails (a reset connection).
    const shared = good.client();
    const ahead = createStateStore({
      client: shared,
      tableName: 't',
      serverClock: createServerClock(() => Date.now() + SKEW),
    });
    // Its first GetItem is lost: make only that one fail.
    const send = shared.send.bind(shared);
    let first = true;
    shared.send = (async (command: { constructor: { name: string } }, ...rest: unknown[]) => {
      if (first && command.constructor.name === 'GetItemCommand') {
        first = false;
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      }
      return (send as (...a: unknown[]) => Promise<unknown>)(command, ...rest);
    }) as typeof shared.send;
    expect(await ahead.acquireLease('held', 'worker-b#run-1', TTL)).toBeNull();
  });

  it('the wall clock stepped 2 minutes forward (NTP, a resumed VM): the service clock does not move with it', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(trueNow());
    const clock = createServerClock();
    // Sixteen honest answers, 130 ms apart, 20 ms each: the offset is known to a few ms.
    for (let i = 0; i < 16; i++) {
      const sent = Date.now();
      clock.observe(new Date(trueNow() + 10).toUTCString(), sent, sent + 20);
      vi.setSystemTime(Date.now() + 130);
    }
    // The wall clock is stepped; the service's time is not. No answer came since.
    vi.setSystemTime(Date.now() + SKEW);
    expect(Math.abs(clock.now() - trueNow())).toBeLessThan(2_000);
  });

  it('one answer whose Date header is off (a proxy or load balancer error page) does not move a well-measured clock by its whole error', () => {
    let local = 50_000_000;
    const clock = createServerClock(() => local);
    for (let i = 0; i < 16; i++) {
      clock.observe(new Date(local + 10).toUTCString(), local, local + 20);
      local += 130;
    }
    expect(clock.offsetMs()).toBe(0);
    // A 502 from something in between whose clock is 2 minutes ahead.
    clock.observe(new Date(local + SKEW).toUTCString(), local, local + 20);
    expect(Math.abs(clock.offsetMs())).toBeLessThan(2_000);
    // Two answers that agree with each other against the interval: the local clock was set.
    local += 130;
    clock.observe(new Date(local + 10 - SKEW).toUTCString(), local, local + 20);
    local += 130;
    clock.observe(new Date(local + 10 - SKEW).toUTCString(), local, local + 20);
    expect(Math.abs(clock.offsetMs() + SKEW)).toBeLessThan(2_000);
  });
});
