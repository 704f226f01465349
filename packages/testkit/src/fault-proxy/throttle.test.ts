import { describe, expect, it } from 'vitest';
import { Throttle } from './throttle.ts';

describe('Throttle', () => {
  const call = {
    service: 'securityhub',
    operation: 'BatchImportFindings',
    account: '111',
    region: 'eu-west-1',
  };

  it('keeps one bucket per operation, account and region', () => {
    const throttle = new Throttle([{ ...rule, burst: 1 }], () => 0);

    const first = throttle.refuse(call);
    const second = throttle.refuse(call);
    const otherAccount = throttle.refuse({ ...call, account: '222' });
    const otherRegion = throttle.refuse({ ...call, region: 'us-east-1' });
    const otherOperation = throttle.refuse({ ...call, operation: 'GetFindings' });

    expect(first).toBeUndefined();
    expect(second).toMatchObject({ errorCode: 'TooManyRequestsException', message: 'Too Many Requests' });
    expect([otherAccount, otherRegion, otherOperation]).toEqual([undefined, undefined, undefined]);
  });

  it('applies the first rule that names the operation, and lets other services through', () => {
    const throttle = new Throttle(
      [
        { ...rule, operations: ['GetFindings'], burst: 1, errorCode: 'First' },
        { ...rule, burst: 1, errorCode: 'Catchall' },
      ],
      () => 0,
    );

    const refusals = [
      throttle.refuse({ ...call, operation: 'GetFindings' }),
      throttle.refuse({ ...call, operation: 'GetFindings' }),
      throttle.refuse(call),
      throttle.refuse(call),
      throttle.refuse({ ...call, service: 'sts' }),
      throttle.refuse({ ...call, service: 'sts' }),
    ];

    expect(refusals.map((r) => r?.errorCode)).toEqual([
      undefined,
      'First',
      undefined,
      'Catchall',
      undefined,
      undefined,
    ]);
  });

  it('passes a steady 10 requests per second forever at rate 10, with a burst of 1', () => {
    let now = 0;
    const throttle = new Throttle([{ ...rule, ratePerSecond: 10, burst: 1 }], () => now);

    const refused = Array.from({ length: 100 }, (_, i) => {
      now = i * 100;
      return throttle.refuse(call);
    });

    expect(refused.every((r) => r === undefined)).toBe(true);
  });

  it('refills from the clock it is given, and never throttles when disabled', () => {
    let now = 0;
    const throttle = new Throttle([{ ...rule, ratePerSecond: 10, burst: 1 }], () => now);
    const disabled = new Throttle(false, () => 0);

    const spent = [throttle.refuse(call), throttle.refuse(call)];
    now = 100;
    const refilled = throttle.refuse(call);

    expect(spent.map((r) => r === undefined)).toEqual([true, false]);
    expect(refilled).toBeUndefined();
    expect(Array.from({ length: 100 }, () => disabled.refuse(call)).every((r) => r === undefined)).toBe(true);
  });
});

const rule = {
  service: 'securityhub',
  ratePerSecond: 0.001,
  burst: 1,
  errorCode: 'TooManyRequestsException',
  message: 'Too Many Requests',
};
