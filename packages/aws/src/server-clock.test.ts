import { describe, expect, it } from 'vitest';
import { createServerClock } from './server-clock.ts';

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
    // The local clock is set right: the next answer contradicts the interval, which starts again.
    local -= 60_400;
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
