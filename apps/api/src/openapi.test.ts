import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { API_ERROR_CODES, ApiError, STATUS_OF } from './errors.ts';
import { defaultOperationId, NO_CONTROL_CHARACTERS, validationMessage } from './openapi.ts';
import { openApiDocument } from './testing/operations.ts';

describe('errors', () => {
  it('map every code to one 4xx or 5xx status', () => {
    for (const code of API_ERROR_CODES) {
      expect(STATUS_OF[code]).toBeGreaterThanOrEqual(400);
      expect(new ApiError(code, 'x').status).toBe(STATUS_OF[code]);
    }
    expect(Object.keys(STATUS_OF).sort()).toEqual([...API_ERROR_CODES].sort());
  });
});

describe('defaultOperationId', () => {
  it('names a list and a read of the same resource apart', () => {
    expect(defaultOperationId('get', '/tenants/{tenantId}/destinations')).toBe('getTenantsDestinations');
    expect(defaultOperationId('GET', '/tenants/{tenantId}/destinations/{destinationId}')).toBe(
      'getTenantsDestinationsByDestinationId',
    );
    expect(defaultOperationId('post', '/tenants/{tenantId}/run-now')).toBe('postTenantsRunNow');
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

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type Operation = {
  summary?: string;
  operationId?: string;
  tags?: string[];
  requestBody?: { content?: Record<string, { schema?: JsonObject; example?: Json }> };
  responses: Record<string, { content?: Record<string, { schema?: JsonObject; example?: Json }> }>;
};
type Document = { paths: Record<string, Record<string, Operation>>; components: JsonObject };

const document = openApiDocument() as unknown as Document;
const operations = Object.entries(document.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })),
);

/** Every `pattern` keyword of the document with the JSON path where it sits. */
function patternsOf(node: Json, at: string, out: { at: string; pattern: string }[] = []) {
  if (Array.isArray(node)) {
    for (const [index, child] of node.entries()) patternsOf(child, `${at}[${index}]`, out);
  } else if (node !== null && typeof node === 'object') {
    for (const [key, child] of Object.entries(node)) {
      if (key === 'pattern' && typeof child === 'string') out.push({ at, pattern: child });
      else patternsOf(child, `${at}.${key}`, out);
    }
  }
  return out;
}

// Draft 2020-12, as OpenAPI 3.1 says; `strict: false` because OpenAPI adds keywords (example, x-...).
function validatorOf(schema: JsonObject) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile({ ...schema, components: document.components });
}

describe('the OpenAPI document: patterns', () => {
  const patterns = patternsOf(document as unknown as Json, '$');

  it('publishes patterns', () => {
    expect(patterns.length).toBeGreaterThan(5);
  });

  it.each(patterns)(
    'compiles $at as ECMA-262, with the u flag as validators do and without it',
    ({ pattern }) => {
      expect(() => new RegExp(pattern, 'u')).not.toThrow();
      expect(() => new RegExp(pattern)).not.toThrow();
      expect(pattern).not.toMatch(/\/[dgimsuvy]+$/);
    },
  );

  it('accepts a normal tenant name and refuses control characters and lone surrogates, with or without u', () => {
    const body = document.paths['/v1/tenants']?.post?.requestBody?.content?.['application/json']?.schema;
    const name = (body?.properties as JsonObject | undefined)?.name as JsonObject | undefined;
    const pattern = String(name?.pattern);

    for (const flags of ['u', '']) {
      const regex = new RegExp(pattern, flags);
      for (const good of ['Acme Corp', 'Ünïcødé GmbH', 'Ø 株式会社 😀', ''])
        expect(regex.test(good)).toBe(true);
      for (const bad of ['Acme\u0007', 'a\nb', '\u0000', 'x\u007f', '\u0085', 'a\ud800b', '\udc00'])
        expect(regex.test(bad)).toBe(false);
    }
  });

  const reference = /^[^\p{Cc}\p{Cs}]*$/u;
  const published = [NO_CONTROL_CHARACTERS, new RegExp(NO_CONTROL_CHARACTERS.source, 'u')];

  it('publishes the rule the API enforces (Unicode Cc and Cs) for every UTF-16 code unit', () => {
    const differing: number[] = [];
    for (let unit = 0; unit <= 0xffff; unit++) {
      const text = `a${String.fromCharCode(unit)}b`;
      if (published.some((regex) => regex.test(text) !== reference.test(text))) differing.push(unit);
    }

    expect(differing).toEqual([]);
  });

  it('publishes the rule the API enforces for any text, surrogate pairs included', () => {
    // UTF-16 code units, weighted towards the edges (controls, surrogates) where the rule lives.
    const unit = fc.oneof(
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xa0 }),
      fc.integer({ min: 0xd800, max: 0xdfff }),
    );
    const texts = fc.array(unit, { maxLength: 24 }).map((units) => String.fromCharCode(...units));
    fc.assert(
      fc.property(texts, (text) => published.every((regex) => regex.test(text) === reference.test(text))),
    );
  });
});

describe('the OpenAPI document: operations', () => {
  it.each(operations)('$name has a summary, an operationId and tags', ({ operation }) => {
    expect(operation.summary).toMatch(/\S/);
    expect(operation.operationId).toMatch(/^[a-z][A-Za-z0-9]*$/);
    expect(operation.tags?.length).toBeGreaterThan(0);
  });

  it('gives every operation its own operationId', () => {
    const ids = operations.map(({ operation }) => operation.operationId);

    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each(operations)(
    '$name documents a 2xx answer with a schema (or 204 without a body)',
    ({ operation }) => {
      const success = Object.entries(operation.responses).filter(([status]) => /^2\d\d$/.test(status));

      expect(success.length).toBeGreaterThan(0);
      for (const [status, response] of success) {
        if (status === '204') expect(response.content).toBeUndefined();
        else {
          const media = Object.values(response.content ?? {});
          expect(media.length).toBeGreaterThan(0);
          for (const { schema } of media) expect(schema).toBeDefined();
        }
      }
    },
  );

  it.each(operations)('$name answers every error with the common Error schema', ({ operation }) => {
    const errors = Object.entries(operation.responses).filter(([status]) => /^[45]\d\d$/.test(status));

    for (const [, response] of errors)
      expect(response.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/Error' });
  });

  const withBody = operations.filter(({ operation }) => operation.requestBody !== undefined);

  it.each(withBody)('$name has a request body example that its own schema accepts', ({ operation }) => {
    const media = operation.requestBody?.content?.['application/json'];
    const schema = media?.schema ?? {};
    const example = media?.example ?? schema.example;

    expect(example).toBeDefined();
    const validate = validatorOf(schema);
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
  });

  // The operations whose answers carry examples so far; others follow the convention in openapi.ts.
  const WITH_ANSWER_EXAMPLES = new Set([
    'getHealth',
    'getReadiness',
    'createTenant',
    'listTenants',
    'getTenant',
    'updateTenant',
    'offboardTenant',
    'createApiKey',
    'listApiKeys',
    'revokeApiKey',
    'createBackfill',
    'getBackfill',
  ]);
  const own = operations.filter(({ operation }) => WITH_ANSWER_EXAMPLES.has(operation.operationId ?? ''));

  it('finds every operation that should carry answer examples', () => {
    expect(own.length).toBe(WITH_ANSWER_EXAMPLES.size);
  });

  it.each(own)('$name shows an example of its main answer that its schema accepts', ({ operation }) => {
    const [, response] = Object.entries(operation.responses).find(([status]) => /^2\d\d$/.test(status)) ?? [];
    const media = response?.content?.['application/json'];

    expect(media?.example).toBeDefined();
    const validate = validatorOf(media?.schema ?? {});
    expect(validate(media?.example), JSON.stringify(validate.errors)).toBe(true);
  });
});
