import type { Database } from '@vsh/db';
import { describe, expect, it } from 'vitest';
import { preparedPer } from './prepared.ts';

describe('preparedPer', () => {
  it('prepares once per database handle and hands each handle its own statement', () => {
    const prepared: string[] = [];
    const one = {} as Database;
    const two = {} as Database;
    const statement = preparedPer((db) => {
      const name = db === one ? 'one' : 'two';
      prepared.push(name);
      return { name };
    });

    const first = statement(one);
    expect(statement(one)).toBe(first);
    expect(statement(two)).toEqual({ name: 'two' });
    expect(prepared).toEqual(['one', 'two']);
  });
});
