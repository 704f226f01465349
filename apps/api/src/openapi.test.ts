import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { API_ERROR_CODES, ApiError, STATUS_OF } from './errors.ts';
import { validationMessage } from './openapi.ts';

describe('errors', () => {
  it('map every code to one 4xx or 5xx status', () => {
    for (const code of API_ERROR_CODES) {
      expect(STATUS_OF[code]).toBeGreaterThanOrEqual(400);
      expect(new ApiError(code, 'x').status).toBe(STATUS_OF[code]);
    }
    expect(Object.keys(STATUS_OF).sort()).toEqual([...API_ERROR_CODES].sort());
  });
});

describe('validationMessage', () => {
  const schema = z.strictObject({
    regions: z.array(z.string().regex(/^[a-z]+$/, 'must be a region')),
    n: z.number(),
  });

  it('names each failing field with its path', () => {
    const result = schema.safeParse({ regions: ['ok', 'BAD'], n: 'x' });

    expect(result.success).toBe(false);
    if (!result.success) {
      expect(validationMessage(result.error, 'json')).toBe(
        'body.regions[1]: must be a region; body.n: Invalid input: expected number, received string',
      );
    }
  });

  it('names unknown fields, cut short, and never the values given', () => {
    const result = schema.safeParse({ regions: [], n: 1, ['k'.repeat(100)]: 'secret-value' });

    expect(result.success).toBe(false);
    if (!result.success) {
      const message = validationMessage(result.error, 'json');
      expect(message).toBe(`body: unknown field "${'k'.repeat(40)}"`);
      expect(message).not.toContain('secret-value');
    }
  });
});
