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

  it('takes the median of the last answers: one answer delayed on its way back does not move it', () => {
    const local = 5_000_000;
    const clock = createServerClock(() => local);
    for (let i = 0; i < 4; i++) clock.observe(at(local - 60_000), local, local + 20);
    const before = clock.offsetMs();
    clock.observe(at(local - 60_000), local - 30_000, local + 20);
    expect(clock.offsetMs()).toBe(before);
    expect(Math.abs(before + 60_000)).toBeLessThanOrEqual(1_000);
  });

  it('ignores an answer without a usable Date header', () => {
    const clock = createServerClock(() => 0);
    clock.observe(undefined, 0, 10);
    clock.observe('not a date', 0, 10);
    clock.observe(at(50_000), 10, 0);
    expect([clock.sampled(), clock.offsetMs()]).toEqual([false, 0]);
  });
});
