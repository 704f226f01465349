import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type PageBounds,
  type PageScan,
  PageScanner,
  parseRecord,
  previewOf,
  readPage,
} from './page-reader.ts';

const BOUNDS: PageBounds = {
  maxResponseBytes: 16 * 1024 * 1024,
  maxRecordsPerPage: 1000,
  maxRecordDepth: 64,
  maxRecordBytes: 1024 * 1024,
};

const encoder = new TextEncoder();
const bytes = (text: string | Uint8Array) => (typeof text === 'string' ? encoder.encode(text) : text);
const sha256 = (data: string | Uint8Array) => createHash('sha256').update(bytes(data)).digest('base64url');
const utf8 = (data: Uint8Array) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(data);

/** Scans `body` cut into chunks at `cuts` (byte offsets). */
function scan(body: string | Uint8Array, bounds: Partial<PageBounds> = {}, cuts: number[] = []): PageScan {
  const data = bytes(body);
  const scanner = new PageScanner({ ...BOUNDS, ...bounds });
  const points = [...new Set(cuts.filter((c) => c > 0 && c < data.byteLength))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...points, data.byteLength]) {
    if (!scanner.push(data.subarray(from, to))) break;
    from = to;
  }
  return scanner.finish();
}

/** A scan result with record bytes as text, comparable with toEqual whatever the chunking. */
function plain(result: PageScan) {
  if (!result.ok) return { ...result, bytesRead: undefined };
  return {
    ...result,
    bytesRead: undefined,
    records: result.records.map((r) => ({ text: Buffer.from(r.bytes).toString('hex'), problem: r.problem })),
  };
}

const texts = (result: PageScan) => (result.ok ? result.records.map((r) => utf8(r.bytes)) : null);

describe('PageScanner: the envelope', () => {
  it('finds every element and the counts, whatever the order of the fields', () => {
    const before = scan('{"total":3,"page":1,"per_page":100,"actions":[{"id":"a"},{"id":"b"},7]}');
    const after = scan('{"actions":[{"id":"a"},{"id":"b"},7],"per_page":100,"page":1,"total":3}');

    for (const result of [before, after]) {
      expect(result).toMatchObject({ ok: true, total: 3, page: 1, perPage: 100 });
      expect(texts(result)).toEqual(['{"id":"a"}', '{"id":"b"}', '7']);
    }
  });

  it('allows whitespace everywhere JSON does, and keeps none around an element', () => {
    const result = scan(
      ' \r\n\t{ "actions" :\n [ \t{ "id" : "a" } ,\r\n"s" , 1.5e3 ,null ] , "total" : 2 }\n ',
    );

    expect(texts(result)).toEqual(['{ "id" : "a" }', '"s"', '1.5e3', 'null']);
    expect(result).toMatchObject({ ok: true, total: 2 });
  });

  it('is not confused by actions keys, brackets and quotes inside records or other fields', () => {
    const body =
      '{"meta":{"actions":[1,2,3],"x":"]},{"},' +
      '"actions":[{"actions":[{"id":"inner"}],"s":"\\"],[{"},{"id":"b","t":"actions"}],' +
      '"note":"\\"actions\\":[]"}';

    expect(texts(scan(body))).toEqual([
      '{"actions":[{"id":"inner"}],"s":"\\"],[{"}',
      '{"id":"b","t":"actions"}',
    ]);
  });

  it('reads a key spelt with escapes, and takes the last of repeated keys as JSON.parse does', () => {
    expect(texts(scan('{"act\\u0069ons":[1]}'))).toEqual(['1']);
    expect(texts(scan('{"actions":[1,2],"total":1,"actions":[3],"total":9}'))).toEqual(['3']);
    expect(scan('{"actions":[1],"actions":null}')).toMatchObject({ ok: false, problem: 'not-envelope' });
  });

  it('skips a byte order mark before the object', () => {
    const body = new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode('{"actions":[1]}')]);

    expect(texts(scan(body))).toEqual(['1']);
  });

  it.each([
    ['a string', '"many"'],
    ['a negative number', '-1'],
    ['a fraction', '2.5'],
    ['an object', '{"n":1}'],
    ['null', 'null'],
    ['a number beyond 2^53', '9007199254740993'],
    ['garbage', 'tru'],
  ])('reads a count given as %s as unknown', (_name, value) => {
    expect(scan(`{"actions":[],"total":${value}}`)).toMatchObject({ ok: true, total: null });
  });

  it.each([
    ['an empty array', '{"actions":[]}', []],
    ['an array of whitespace', '{"actions":[ \n ]}', []],
    ['a trailing comma', '{"actions":[1,]}', ['1', '']],
    ['a missing element', '{"actions":[1,,2]}', ['1', '', '2']],
    ['garbage after an element', '{"actions":[{} x,2]}', ['{} x', '2']],
  ])('cuts %s into elements for JSON.parse to judge', (_name, body, expected) => {
    expect(texts(scan(body))).toEqual(expected);
  });

  it.each([
    ['an empty body', '', 'not-json'],
    ['HTML', '<html>login</html>', 'not-json'],
    ['a truncated page', '{"actions":[{"id":"a"}', 'not-json'],
    ['a page truncated in a string', '{"actions":[{"id":"a', 'not-json'],
    ['bytes after the object', '{"actions":[]} {}', 'not-json'],
    ['a missing colon', '{"actions" []}', 'not-json'],
    ['a brace closing the actions array', '{"actions":[1}', 'not-json'],
    ['an unquoted key', '{actions:[]}', 'not-json'],
    ['a JSON array', '[{"id":"a"}]', 'not-envelope'],
    ['JSON null', 'null', 'not-envelope'],
    ['no actions field', '{"data":[]}', 'not-envelope'],
    ['actions that are an object', '{"actions":{"0":{}}}', 'not-envelope'],
    ['actions that are a string', '{"actions":"[]"}', 'not-envelope'],
  ])('judges %s unreadable, fingerprinted by the whole body', (_name, body, problem) => {
    expect(scan(body)).toMatchObject({ ok: false, problem, fingerprint: sha256(body) });
  });
});

describe('PageScanner: strings', () => {
  it('passes escaped NUL, lone surrogate escapes and escaped quotes and backslashes through intact', () => {
    const record = '{"id":"a","x":"\\u0000","y":"\\ud800","z":"\\\\","q":"\\"]}\\\\"}';

    const result = scan(`{"actions":[${record},2]}`);

    expect(texts(result)).toEqual([record, '2']);
    expect(JSON.parse(texts(result)?.[0] ?? '')).toEqual({
      id: 'a',
      x: '\u0000',
      y: '\ud800',
      z: '\\',
      q: '"]}\\',
    });
  });

  it('passes raw invalid UTF-8 through as bytes, decoded with U+FFFD as response.json() would', () => {
    const body = new Uint8Array([
      ...encoder.encode('{"actions":[{"id":"a","x":"'),
      0xff,
      0xe2,
      ...encoder.encode('"},2]}'),
    ]);

    const result = scan(body);

    expect(result.ok && Array.from(result.records[0]?.bytes.slice(-4) ?? [])).toEqual([
      0xff, 0xe2, 0x22, 0x7d,
    ]);
    expect(texts(result)).toEqual(['{"id":"a","x":"\ufffd\ufffd"}', '2']);
  });

  it('leaves a raw control byte in a string to JSON.parse, which refuses that record alone', () => {
    const record = '{"id":"a","x":"\u0001"}';

    const result = scan(`{"actions":[${record},{"id":"b","timestamp":"2026-01-01T00:00:00Z"}]}`);
    const parsed = result.ok ? result.records.map((r) => parseRecord(r, BOUNDS)) : [];

    expect(parsed.map((p) => (p.ok ? p.action.id : p.rejection.code))).toEqual(['MALFORMED_RECORD', 'b']);
    expect(parsed[0]).toMatchObject({ rejection: { raw: record, fingerprint: sha256(record) } });
  });
});

describe('PageScanner: bounds', () => {
  it('stops at the first element past maxRecordsPerPage, fingerprinting the bytes before it', () => {
    const scanner = new PageScanner({ ...BOUNDS, maxRecordsPerPage: 3 });

    const more = scanner.push(encoder.encode('{"actions":[{},{},{},{},{}]}'));

    expect(more).toBe(false);
    expect(scanner.finish()).toMatchObject({
      ok: false,
      problem: 'too-many-records',
      reason: 'Vaikora answered a page with more than 3 records',
      records: 4,
      fingerprint: sha256('{"actions":[{},{},{},'),
    });
  });

  it('counts an empty element towards maxRecordsPerPage', () => {
    expect(scan('{"actions":[1,2,,]}', { maxRecordsPerPage: 3 })).toMatchObject({
      ok: false,
      problem: 'too-many-records',
      fingerprint: sha256('{"actions":[1,2,,'),
    });
  });

  it('marks a record deeper than maxRecordDepth, and not one exactly at it', () => {
    const atBound = `${'['.repeat(4)}${']'.repeat(4)}`;
    const tooDeep = `{"a":${'['.repeat(4)}${']'.repeat(4)}}`;

    const result = scan(`{"actions":[${atBound},${tooDeep},{}]}`, { maxRecordDepth: 4 });

    expect(result.ok && result.records.map((r) => r.problem)).toEqual([null, 'too-deep', null]);
  });

  it('scans a record 5,000,000 levels deep without recursion, and the records after it', () => {
    const deep = `{"a":${'['.repeat(5_000_000)}${']'.repeat(5_000_000)}}`;

    const result = scan(`{"actions":[${deep},{"id":"b"}],"total":2}`);

    expect(result.ok && result.records.map((r) => [r.bytes.byteLength, r.problem])).toEqual([
      [deep.length, 'too-deep'],
      [10, null],
    ]);
    expect(result).toMatchObject({ total: 2 });
  });

  it('does not bound the depth of envelope fields other than actions', () => {
    const deepMeta = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;

    expect(texts(scan(`{"meta":${deepMeta},"actions":[{}]}`))).toEqual(['{}']);
  });

  it('marks a record larger than maxRecordBytes, and not one exactly at it', () => {
    const result = scan('{"actions":["1234567890","12345678901"]}', { maxRecordBytes: 12 });

    expect(result.ok && result.records.map((r) => r.problem)).toEqual([null, 'too-large']);
  });

  it('judges a body past maxResponseBytes unreadable by its first maxResponseBytes bytes', () => {
    const body = `{"actions":[${'{"id":"a"},'.repeat(200)}{}]}`;

    const result = scan(body, { maxResponseBytes: 1024 }, [100, 1000, 1500]);

    expect(result).toMatchObject({
      ok: false,
      problem: 'too-large',
      reason: 'Vaikora answered a page larger than 1024 bytes',
      fingerprint: sha256(body.slice(0, 1024)),
      bytesRead: 1024,
    });
  });

  it('reads a body of exactly maxResponseBytes', () => {
    const body = `{"actions":[${' '.repeat(1024 - 15)}1]}`;

    expect(texts(scan(body, { maxResponseBytes: 1024 }))).toEqual(['1']);
  });
});

describe('readPage', () => {
  it('cancels the body once the verdict is in, reading only a few chunks of a 64 MiB page', async () => {
    const filler = encoder.encode('{},'.repeat(65_536 / 3));
    let pulled = 0;
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulled++;
          controller.enqueue(pulled === 1 ? encoder.encode('{"actions":[') : filler);
          if (pulled > 1024) controller.close();
        },
        cancel() {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );

    const result = await readPage(body, BOUNDS);

    expect(result).toMatchObject({ ok: false, problem: 'too-many-records', records: 1001 });
    expect(cancelled).toBe(true);
    expect(pulled).toBe(2);
  });

  it('reads a missing body as an empty one', async () => {
    expect(await readPage(null, BOUNDS)).toMatchObject({
      ok: false,
      problem: 'not-json',
      fingerprint: sha256(''),
    });
  });

  it('passes a failure of the stream on to the caller', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode('{"actions":['));
        controller.error(new Error('socket hang up'));
      },
    });

    await expect(readPage(body, BOUNDS)).rejects.toThrow('socket hang up');
  });
});

describe('parseRecord', () => {
  it('fingerprints a rejection of parseAction by the raw bytes and keeps the parsed value as raw', () => {
    const text = '{ "id": "x", "timestamp": "yesterday" }';

    const result = parseRecord({ bytes: bytes(text), problem: null }, BOUNDS);

    expect(result).toEqual({
      ok: false,
      rejection: expect.objectContaining({
        code: 'INVALID_TIMESTAMP',
        actionId: 'x',
        raw: { id: 'x', timestamp: 'yesterday' },
        fingerprint: sha256(text),
      }),
    });
  });

  it('keeps a preview of at most 2 KiB, cut at a character boundary', () => {
    const text = `["${'a'.repeat(2045)}€€"]`;

    const preview = previewOf(bytes(text));

    expect(preview).toBe(`["${'a'.repeat(2045)}`);
    expect(previewOf(bytes(`["${'a'.repeat(2043)}€"]`))).toBe(`["${'a'.repeat(2043)}€`);
  });
});

describe('PageScanner: chunking', () => {
  // Any code point, often a structural one, a lone surrogate, a control or a multi-byte character:
  // JSON.stringify escapes what it must and writes the rest as raw UTF-8, so cuts fall inside escapes
  // and characters.
  const stringUnit = fc.oneof(
    fc.constantFrom(
      '"',
      '\\',
      '[',
      ']',
      '{',
      '}',
      ',',
      ':',
      ' ',
      '\u0000',
      '\u001f',
      '\ud800',
      '\udc00',
      'é',
      '€',
      '😀',
    ),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  );
  const record = fc.oneof(
    fc.jsonValue({ maxDepth: 4, stringUnit }),
    fc.record({
      id: fc.string({ unit: stringUnit }),
      actions: fc.array(fc.jsonValue({ maxDepth: 2, stringUnit }), { maxLength: 3 }),
    }),
  );
  const page = fc
    .record({
      actions: fc.array(record, { maxLength: 12 }),
      total: fc.option(fc.nat(), { nil: undefined }),
      meta: fc.option(fc.jsonValue({ maxDepth: 3, stringUnit }), { nil: undefined }),
      indent: fc.constantFrom(undefined, 0, 1, '\t', ' \r\n'),
      actionsFirst: fc.boolean(),
    })
    .map(({ actions, total, meta, indent, actionsFirst }) => {
      const envelope = actionsFirst ? { actions, total, meta } : { meta, total, actions };
      return { text: JSON.stringify(envelope, null, indent as string | number | undefined) };
    });
  const cuts = fc.array(fc.nat({ max: 4096 }), { maxLength: 40 });

  it('agrees with JSON.parse on the elements and total of any JSON page, however it is cut', () => {
    fc.assert(
      fc.property(page, cuts, ({ text }, at) => {
        const body = bytes(text);
        const expected = JSON.parse(text) as { actions: unknown[]; total?: number };

        const result = scan(
          body,
          {},
          at.map((c) => c % (body.byteLength + 1)),
        );

        expect(result.ok).toBe(true);
        expect(texts(result)?.map((t) => JSON.parse(t))).toEqual(expected.actions);
        expect(result).toMatchObject({ total: expected.total ?? null });
      }),
      { numRuns: 500 },
    );
  });

  it('gives any bytes the same verdict whole or cut anywhere, and never throws', () => {
    const hostile = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      page.map(({ text }) => bytes(text)),
      fc.tuple(page, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([{ text }, at, noise]) => {
        const body = bytes(text);
        const i = at % (body.byteLength + 1);
        return new Uint8Array([...body.subarray(0, i), ...noise, ...body.subarray(i)]);
      }),
    );
    const bounds = fc.record({
      maxRecordsPerPage: fc.integer({ min: 1, max: 8 }),
      maxRecordDepth: fc.integer({ min: 1, max: 4 }),
      maxRecordBytes: fc.integer({ min: 64, max: 200 }),
      maxResponseBytes: fc.integer({ min: 64, max: 600 }),
    });

    fc.assert(
      fc.property(hostile, bounds, cuts, (body, limits, at) => {
        const whole = scan(body, limits);
        const cut = scan(
          body,
          limits,
          at.map((c) => c % (body.byteLength + 1)),
        );

        expect(plain(cut)).toEqual(plain(whole));
      }),
      { numRuns: 1000 },
    );
  });
});
