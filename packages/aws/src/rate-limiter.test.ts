import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRateLimiterRegistry, createTokenBucket } from './rate-limiter.ts';

function fakeTime() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    clock: () => now,
    sleep: async (ms: number) => {
      sleeps.push(Math.round(ms));
    },
    advance: (ms: number) => {
      now += ms;
    },
    sleeps,
  };
}

describe('createTokenBucket', () => {
  it('lets a burst through at once, then paces callers at the rate in arrival order', async () => {
    const time = fakeTime();
    const bucket = createTokenBucket({ ratePerSecond: 10, burst: 3, ...time });

    await Promise.all(Array.from({ length: 6 }, () => bucket.take()));

    expect(time.sleeps).toEqual([100, 200, 300]);
  });

  it('refills over time up to the burst, never beyond', async () => {
    const time = fakeTime();
    const bucket = createTokenBucket({ ratePerSecond: 10, burst: 3, ...time });
    await Promise.all([bucket.take(), bucket.take(), bucket.take()]);

    time.advance(60_000);
    await Promise.all(Array.from({ length: 4 }, () => bucket.take()));

    expect(time.sleeps).toEqual([100]);
  });

  it('drops the saved burst when the service throttles anyway', async () => {
    const time = fakeTime();
    const bucket = createTokenBucket({ ratePerSecond: 10, burst: 30, ...time });

    bucket.penalize();
    await bucket.take();

    expect(bucket.available()).toBe(-1);
    expect(time.sleeps).toEqual([100]);
  });

  it('never grants more than burst + rate × elapsed tokens (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 1, max: 20 })), {
          maxLength: 30,
        }),
        async (steps) => {
          const time = fakeTime();
          const bucket = createTokenBucket({ ratePerSecond: 10, burst: 30, ...time });
          let granted = 0;
          let elapsed = 0;
          for (const [gap, callers] of steps) {
            time.advance(gap);
            elapsed += gap;
            const before = time.sleeps.length;
            await Promise.all(Array.from({ length: callers }, () => bucket.take()));
            granted += callers - (time.sleeps.length - before);
            expect(granted).toBeLessThanOrEqual(30 + (elapsed * 10) / 1000 + 1e-9);
          }
        },
      ),
    );
  });
});

describe('createRateLimiterRegistry', () => {
  it('shares one bucket per account and region and separates the others', () => {
    const registry = createRateLimiterRegistry({ ratePerSecond: 10, burst: 30 });
    const a = { accountId: '111122223333', region: 'eu-west-1', partition: 'aws' } as const;

    const same = registry.forDestination({ ...a });
    const first = registry.forDestination(a);
    const otherRegion = registry.forDestination({ ...a, region: 'us-east-1' });
    const otherAccount = registry.forDestination({ ...a, accountId: '444455556666' });

    expect(same).toBe(first);
    expect(otherRegion).not.toBe(first);
    expect(otherAccount).not.toBe(first);
    expect(registry.size).toBe(3);
  });
});
