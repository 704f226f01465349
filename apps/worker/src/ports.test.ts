import { AwsError, type StateStore as DynamoStateStore, StateError, type StateErrorCode } from '@vsh/aws';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { isLeaseLost, type StateFailureCode, type StateStore } from './ports.ts';

// The worker owns its ports (ADR 0102); these check that the DynamoDB adapter still fits them.

describe('the state port', () => {
  it('is implemented by the DynamoDB adapter, whose failure codes are the ones the port names', () => {
    expectTypeOf<DynamoStateStore>().toMatchTypeOf<StateStore>();
    expectTypeOf<StateErrorCode>().toEqualTypeOf<StateFailureCode>();
  });

  it.each<[string, unknown, boolean]>([
    ["the adapter's LEASE_LOST", new StateError('LEASE_LOST', 'taken over', false), true],
    ["the adapter's other codes", new StateError('CONFLICT', 'kept conflicting', true), false],
    ['an AWS error', new AwsError('ACCESS_DENIED', 'denied'), false],
    ['anything else thrown', 'LEASE_LOST', false],
  ])('isLeaseLost: %s -> %s', (_name, err, expected) => {
    expect(isLeaseLost(err)).toBe(expected);
  });
});
