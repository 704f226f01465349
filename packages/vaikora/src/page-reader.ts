import { createHash, type Hash } from 'node:crypto';
import { type ParseResult, parseAction, type Rejection, reject } from '@vsh/core';

/** What one page may hold before the reader stops trusting it (ADR 0022). */
export interface PageBounds {
  /** Body bytes read at most; past them the page is unreadable and the body is cancelled. */
  readonly maxResponseBytes: number;
  /** Elements of `actions` at most; the first element past it ends the read at once. */
  readonly maxRecordsPerPage: number;
  /** Nesting of one record at most (the record's own braces are level 1). */
  readonly maxRecordDepth: number;
  /** Bytes of one record at most. */
  readonly maxRecordBytes: number;
}

/** Why a record was not handed to JSON.parse. */
type RecordProblem = 'too-deep' | 'too-large';

/** One element of the top-level `actions` array, as the bytes received. */
export interface RawRecord {
  /** A view of the body (or a copy when the element spans chunks); valid until the next page. */
  readonly bytes: Uint8Array;
  readonly problem: RecordProblem | null;
}

/** Why a whole page could not be read. */
export type PageProblem = 'too-many-records' | 'too-large' | 'not-json' | 'not-envelope';

export type PageScan =
  | {
      readonly ok: true;
      readonly records: RawRecord[];
      /** The envelope's counts when each is a non-negative integer, else null (last occurrence wins). */
      readonly total: number | null;
      readonly page: number | null;
      readonly perPage: number | null;
      readonly bytesRead: number;
    }
  | {
      readonly ok: false;
      readonly problem: PageProblem;
      /** Names the bound or the shape that failed; never quotes the body. */
      readonly reason: string;
      /**
       * sha256 (base64url) of the bytes the verdict rests on: the whole body for a page that is not
       * JSON (at most maxResponseBytes of it), the first maxResponseBytes bytes of a page too large,
       * the bytes before element maxRecordsPerPage+1 of a page with too many records. The same hostile
       * page gets the same fingerprint in every run, however its chunks were cut.
       */
      readonly fingerprint: string;
      /** Elements seen before the verdict (maxRecordsPerPage + 1 for too many). */
      readonly records: number;
      readonly bytesRead: number;
    };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

// Where the scan is in the top-level object (depth 0 and 1).
const ENV_START = 0;
const ENV_KEY_OR_END = 1;
const ENV_KEY = 2;
const ENV_IN_KEY = 3;
const ENV_COLON = 4;
const ENV_VALUE = 5;
const ENV_IN_STRING_VALUE = 6;
const ENV_SCALAR = 7;
const ENV_IN_CONTAINER = 8;
const ENV_AFTER_VALUE = 9;
const ENV_DONE = 10;

// The top-level member being read.
const KEY_OTHER = 0;
const KEY_ACTIONS = 1;
const KEY_TOTAL = 2;
const KEY_PAGE = 3;
const KEY_PER_PAGE = 4;
const KEYS: ReadonlyMap<string, number> = new Map([
  ['actions', KEY_ACTIONS],
  ['total', KEY_TOTAL],
  ['page', KEY_PAGE],
  ['per_page', KEY_PER_PAGE],
]);

const NOT_JSON = 'Vaikora answered with a body that is not JSON';
const NOT_ENVELOPE = 'Vaikora answered without the expected envelope { actions: [...] }';

/** A byte that may begin a JSON value other than an object: the body is JSON of the wrong shape. */
const startsOtherJson = (b: number) =>
  b === LBRACKET ||
  b === QUOTE ||
  b === 0x2d ||
  (b >= 0x30 && b <= 0x39) ||
  b === 0x74 ||
  b === 0x66 ||
  b === 0x6e;

const BOM = [0xef, 0xbb, 0xbf];

interface Draining {
  readonly problem: PageProblem;
  readonly reason: string;
  readonly hash: Hash;
}

// ignoreBOM keeps a byte order mark inside a record, so JSON.parse refuses it as it would in the page.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * An incremental structural scan of one `GET /actions` body: it finds the byte range of each element
 * of the top-level `actions` array and the values of `total`, `page` and `per_page`, tracking only
 * strings (with escapes) and the depth of brackets. It checks the envelope's structure (braces, quoted
 * keys, colons, commas, nothing after the object); each element's syntax is left to JSON.parse of its
 * slice, so one broken record costs that record only.
 *
 * Hand-written, not a library: the streaming JSON parsers on npm (@streamparser/json, stream-json,
 * jsonparse, clarinet, oboe) build a value or emit a token object for every string, number and bracket,
 * and none reports an element's raw byte range or stops descending at a depth bound. Those ranges are
 * what make a record's fingerprint its bytes as received and keep a 5,000,000-deep record from ever
 * reaching a recursive parser; the scan is a byte loop of a few comparisons per byte.
 *
 * Bytes >= 0x80 never equal a structural byte, so multi-byte characters and invalid UTF-8 pass
 * through untouched and a chunk may end anywhere, even inside an escape or a character.
 */
export class PageScanner {
  private readonly chunks: Uint8Array[] = [];
  private readonly chunkStarts: number[] = [];
  private bytesRead = 0;
  private verdict: Extract<PageScan, { ok: false }> | null = null;
  /** Set while a body already judged not JSON is read on, to fingerprint all of it. */
  private draining: Draining | null = null;

  private depth = 0;
  private inString = false;
  private escaped = false;

  private env = ENV_START;
  private key = KEY_OTHER;
  private keyStart = -1;
  private valueStart = -1;
  private readonly countRanges: ([number, number] | null)[] = [null, null, null, null, null];

  private inActions = false;
  private actionsFound = false;
  /** Flat (start, end, tooDeep) triples of the elements of the last `actions` array. */
  private ranges: number[] = [];
  private elemStart = -1;
  private elemEnd = -1;
  private elemDeep = false;
  private elemPending = false;

  constructor(private readonly bounds: PageBounds) {}

  /** Feeds the next chunk; false once the verdict is in and the rest of the body is not needed. */
  push(chunk: Uint8Array): boolean {
    if (this.verdict !== null) return false;
    const room = this.bounds.maxResponseBytes - this.bytesRead;
    const part = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
    const base = this.bytesRead;
    this.bytesRead += part.byteLength;
    if (this.draining !== null) {
      this.draining.hash.update(part);
    } else if (part.byteLength > 0) {
      this.chunks.push(part);
      this.chunkStarts.push(base);
      this.scan(part, base);
    }
    if (this.verdict !== null) return false;
    if (part.byteLength < chunk.byteLength) {
      if (this.draining !== null) this.settleDraining(this.draining);
      else
        this.fail(
          'too-large',
          `Vaikora answered a page larger than ${this.bounds.maxResponseBytes} bytes`,
          this.bytesRead,
        );
      return false;
    }
    return true;
  }

  /** The verdict on the body read so far, taken as the whole body. */
  finish(): PageScan {
    if (this.verdict !== null) return this.verdict;
    if (this.draining !== null) return this.settleDraining(this.draining);
    if (this.env !== ENV_DONE || this.depth !== 0 || this.inString) {
      return this.settleDraining(this.startDraining('not-json', NOT_JSON));
    }
    if (!this.actionsFound) return this.settleDraining(this.startDraining('not-envelope', NOT_ENVELOPE));
    const records: RawRecord[] = [];
    const { maxRecordBytes } = this.bounds;
    const ranges = this.ranges;
    for (let r = 0; r < ranges.length; r += 3) {
      const start = ranges[r] as number;
      const end = ranges[r + 1] as number;
      const problem = ranges[r + 2] === 1 ? 'too-deep' : end - start > maxRecordBytes ? 'too-large' : null;
      records.push({ bytes: this.bytesAt(start, end), problem });
    }
    const result: PageScan = {
      ok: true,
      records,
      total: this.count(KEY_TOTAL),
      page: this.count(KEY_PAGE),
      perPage: this.count(KEY_PER_PAGE),
      bytesRead: this.bytesRead,
    };
    this.release();
    return result;
  }

  private scan(c: Uint8Array, base: number): void {
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    const deepAt = 2 + this.bounds.maxRecordDepth;
    const n = c.length;
    for (let i = 0; i < n; i++) {
      if (inString) {
        if (escaped) {
          escaped = false;
          continue;
        }
        // Most bytes are string content: run to the next quote or backslash in a tight loop.
        let s = c[i] as number;
        while (s !== QUOTE && s !== BACKSLASH && ++i < n) s = c[i] as number;
        if (i === n) break;
        if (s === BACKSLASH) escaped = true;
        else {
          inString = false;
          if (depth <= 2) this.stringEnd(depth, base + i);
        }
        continue;
      }
      const b = c[i] as number;
      if (depth > 2) {
        // Inside a record (or another envelope value): only strings and brackets matter.
        if (b === QUOTE) inString = true;
        else if (b === LBRACE || b === LBRACKET) {
          if (++depth > deepAt) this.elemDeep = true;
        } else if (b === RBRACE || b === RBRACKET) {
          if (--depth === 2) this.elemEnd = base + i + 1;
        }
        continue;
      }
      if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) {
        if (depth === 1 && this.env === ENV_SCALAR) this.endValue(base + i, ENV_AFTER_VALUE);
        continue;
      }
      const pos = base + i;
      if (depth === 2) {
        if (!this.inActions) {
          if (b === QUOTE) inString = true;
          else if (b === LBRACE || b === LBRACKET) depth++;
          else if (b === RBRACE || b === RBRACKET) {
            depth = 1;
            this.env = ENV_AFTER_VALUE;
          }
          continue;
        }
        if (b === COMMA || b === RBRACKET) {
          if (this.elemStart !== -1 || b === COMMA || this.elemPending) {
            if (!this.endElement(pos)) break;
          }
          this.elemPending = b === COMMA;
          if (b === RBRACKET) {
            depth = 1;
            this.inActions = false;
            this.env = ENV_AFTER_VALUE;
          }
          continue;
        }
        if (b === RBRACE) {
          this.startDraining('not-json', NOT_JSON);
          break;
        }
        if (this.elemStart === -1 && !this.startElement(pos)) break;
        if (b === QUOTE) inString = true;
        else if (b === LBRACE || b === LBRACKET) {
          if (++depth > deepAt) this.elemDeep = true;
        } else this.elemEnd = pos + 1;
        continue;
      }
      if (depth === 1) {
        const next = this.envelopeByte(b, pos);
        if (next < 0) {
          this.startDraining('not-json', NOT_JSON);
          break;
        }
        if (next === 1) inString = true;
        else if (next === 2) depth = 2;
        else if (next === 3) depth = 0;
        continue;
      }
      // depth 0: before the top-level object, or after it.
      if (this.env === ENV_START && b === LBRACE) {
        depth = 1;
        this.env = ENV_KEY_OR_END;
      } else if (this.env === ENV_START && pos < 3 && b === BOM[pos]) {
        // A UTF-8 byte order mark, as response.json() would skip.
      } else {
        const shape = this.env === ENV_START && startsOtherJson(b);
        this.startDraining(shape ? 'not-envelope' : 'not-json', shape ? NOT_ENVELOPE : NOT_JSON);
        break;
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
  }

  /**
   * One byte of the top-level object outside strings. Returns -1 for a syntax error, 1 when a string
   * opens, 2 when a container value opens, 3 when the object closes, 0 otherwise.
   */
  private envelopeByte(b: number, pos: number): number {
    switch (this.env) {
      case ENV_KEY_OR_END:
      case ENV_KEY:
        if (b === QUOTE) {
          this.keyStart = pos;
          this.env = ENV_IN_KEY;
          return 1;
        }
        if (b === RBRACE && this.env === ENV_KEY_OR_END) {
          this.env = ENV_DONE;
          return 3;
        }
        return -1;
      case ENV_COLON:
        if (b !== COLON) return -1;
        this.env = ENV_VALUE;
        return 0;
      case ENV_VALUE:
        if (b === QUOTE) {
          this.valueStart = pos;
          this.env = ENV_IN_STRING_VALUE;
          return 1;
        }
        if (b === LBRACKET || b === LBRACE) {
          this.countRanges[this.key] = null;
          if (this.key === KEY_ACTIONS) {
            // A repeated key: the last one wins, as in JSON.parse.
            this.actionsFound = b === LBRACKET;
            this.inActions = b === LBRACKET;
            this.ranges = [];
            this.elemStart = -1;
            this.elemPending = false;
          }
          this.env = ENV_IN_CONTAINER;
          return 2;
        }
        if (b === COMMA || b === RBRACE || b === RBRACKET || b === COLON) return -1;
        this.valueStart = pos;
        this.env = ENV_SCALAR;
        return 0;
      case ENV_SCALAR:
        if (b === COMMA) {
          this.endValue(pos, ENV_KEY);
          return 0;
        }
        if (b === RBRACE) {
          this.endValue(pos, ENV_DONE);
          return 3;
        }
        return b === QUOTE || b === LBRACE || b === LBRACKET || b === RBRACKET || b === COLON ? -1 : 0;
      case ENV_AFTER_VALUE:
        if (b === COMMA) {
          this.env = ENV_KEY;
          return 0;
        }
        if (b === RBRACE) {
          this.env = ENV_DONE;
          return 3;
        }
        return -1;
      default:
        return -1;
    }
  }

  /** A string closed at `pos` at depth 1 or 2. */
  private stringEnd(depth: number, pos: number): void {
    if (depth === 2) {
      if (this.inActions) this.elemEnd = pos + 1;
      return;
    }
    if (this.env === ENV_IN_KEY) {
      this.key = this.keyOf(this.keyStart, pos + 1);
      this.env = ENV_COLON;
    } else if (this.env === ENV_IN_STRING_VALUE) {
      this.endValue(pos + 1, ENV_AFTER_VALUE);
    }
  }

  /** A scalar or string member value ended just before `end`. */
  private endValue(end: number, next: number): void {
    if (this.key === KEY_ACTIONS) this.actionsFound = false;
    else if (this.key !== KEY_OTHER) this.countRanges[this.key] = [this.valueStart, end];
    this.env = next;
  }

  private keyOf(start: number, end: number): number {
    // The longest key of interest is "per_page", 10 bytes quoted; escapes can spell one in up to 6x.
    if (end - start > 64) return KEY_OTHER;
    const text = decoder.decode(this.bytesAt(start, end));
    let name: unknown;
    try {
      name = text.includes('\\') ? JSON.parse(text) : text.slice(1, -1);
    } catch {
      return KEY_OTHER;
    }
    return (typeof name === 'string' && KEYS.get(name)) || KEY_OTHER;
  }

  private count(key: number): number | null {
    const range = this.countRanges[key];
    if (range === null || range === undefined || range[1] - range[0] > 32) return null;
    try {
      const value: unknown = JSON.parse(decoder.decode(this.bytesAt(range[0], range[1])));
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
    } catch {
      return null;
    }
  }

  private startElement(pos: number): boolean {
    if (this.ranges.length / 3 >= this.bounds.maxRecordsPerPage) {
      this.tooMany(pos);
      return false;
    }
    this.elemStart = pos;
    this.elemEnd = pos;
    this.elemDeep = false;
    this.elemPending = false;
    return true;
  }

  /** Ends the element before the `,` or `]` at `pos`; an empty one (`[1,,2]`) is an empty record. */
  private endElement(pos: number): boolean {
    if (this.elemStart === -1) {
      if (this.ranges.length / 3 >= this.bounds.maxRecordsPerPage) {
        this.tooMany(pos);
        return false;
      }
      this.ranges.push(pos, pos, 0);
      return true;
    }
    this.ranges.push(this.elemStart, this.elemEnd, this.elemDeep ? 1 : 0);
    this.elemStart = -1;
    return true;
  }

  private tooMany(end: number): void {
    this.fail(
      'too-many-records',
      `Vaikora answered a page with more than ${this.bounds.maxRecordsPerPage} records`,
      end,
      this.bounds.maxRecordsPerPage + 1,
    );
  }

  private fail(problem: PageProblem, reason: string, end: number, records = this.ranges.length / 3): void {
    const hash = createHash('sha256');
    for (let c = 0; c < this.chunks.length; c++) {
      const chunk = this.chunks[c] as Uint8Array;
      const start = this.chunkStarts[c] as number;
      if (start >= end) break;
      hash.update(start + chunk.byteLength <= end ? chunk : chunk.subarray(0, end - start));
    }
    this.release();
    this.verdict = {
      ok: false,
      problem,
      reason,
      fingerprint: hash.digest('base64url'),
      records,
      bytesRead: this.bytesRead,
    };
  }

  /** The body is not a page: read on (within maxResponseBytes) so the fingerprint covers all of it. */
  private startDraining(problem: PageProblem, reason: string): Draining {
    const hash = createHash('sha256');
    for (const chunk of this.chunks) hash.update(chunk);
    this.release();
    this.draining = { problem, reason, hash };
    return this.draining;
  }

  private settleDraining({ problem, reason, hash }: Draining): Extract<PageScan, { ok: false }> {
    this.draining = null;
    this.verdict = {
      ok: false,
      problem,
      reason,
      fingerprint: hash.digest('base64url'),
      records: this.ranges.length / 3,
      bytesRead: this.bytesRead,
    };
    return this.verdict;
  }

  private release(): void {
    this.chunks.length = 0;
    this.chunkStarts.length = 0;
  }

  /** Bytes [start, end) of the body: a view when they lie in one chunk, else a copy. */
  private bytesAt(start: number, end: number): Uint8Array {
    const starts = this.chunkStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= start) lo = mid;
      else hi = mid - 1;
    }
    const first = this.chunks[lo] as Uint8Array;
    const offset = start - (starts[lo] as number);
    if (offset + (end - start) <= first.byteLength) return first.subarray(offset, offset + end - start);
    const out = new Uint8Array(end - start);
    let written = 0;
    for (let c = lo; written < out.byteLength; c++) {
      const chunk = this.chunks[c] as Uint8Array;
      const from = c === lo ? offset : 0;
      const take = Math.min(chunk.byteLength - from, out.byteLength - written);
      out.set(chunk.subarray(from, from + take), written);
      written += take;
    }
    return out;
  }
}

/** Reads a response body through a PageScanner, cancelling the body as soon as the verdict is in. */
export async function readPage(
  body: AsyncIterable<Uint8Array> | null,
  bounds: PageBounds,
): Promise<PageScan> {
  const scanner = new PageScanner(bounds);
  if (body === null) return scanner.finish();
  const chunks = body[Symbol.asyncIterator]();
  for (;;) {
    const { done, value } = await chunks.next();
    if (done) break;
    if (!scanner.push(value)) {
      // Returning the iterator cancels a web stream and destroys a Node one; a failure to is no matter.
      await chunks.return?.().catch(() => undefined);
      break;
    }
  }
  return scanner.finish();
}

/** Bytes of a record kept as its preview when it is never parsed. */
const RECORD_PREVIEW_BYTES = 2048;

/** The first RECORD_PREVIEW_BYTES bytes decoded as UTF-8, cut at a character boundary. */
export function previewOf(bytes: Uint8Array): string {
  if (bytes.byteLength <= RECORD_PREVIEW_BYTES) return decoder.decode(bytes);
  let end = RECORD_PREVIEW_BYTES;
  // Back off over continuation bytes (10xxxxxx) so the cut does not split a character.
  for (let k = 0; k < 3 && ((bytes[end] as number) & 0xc0) === 0x80; k++) end--;
  return decoder.decode(bytes.subarray(0, end));
}

/** sha256, base64url, of a record's bytes as received. */
function fingerprintOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url');
}

/**
 * Turns one raw record into an action or a parse-stage rejection fingerprinted by its raw bytes. A
 * record that is too deep, too large or not JSON is never parsed and keeps a bounded preview as `raw`.
 */
export function parseRecord(record: RawRecord, bounds: PageBounds): ParseResult {
  if (record.problem !== null) {
    const reason =
      record.problem === 'too-deep'
        ? `record is nested deeper than ${bounds.maxRecordDepth} levels`
        : `record is larger than ${bounds.maxRecordBytes} bytes`;
    const code = record.problem === 'too-deep' ? 'RECORD_TOO_DEEP' : 'RECORD_TOO_LARGE';
    return unparsed(reject(code, 'parse', reason, null, previewOf(record.bytes)), record.bytes);
  }
  let value: unknown;
  try {
    const text = decoder.decode(record.bytes);
    value = JSON.parse(text);
    // An integer id past 2^53 is rounded by JSON.parse: 9007199254740993 and 9007199254740992 would be
    // one id, so one action lost. Such a record is parsed again and keeps the id's digits as sent (a
    // reviver for every record would slow them all; this is the rare one).
    if (isRecord(value) && typeof value.id === 'number' && !Number.isSafeInteger(value.id)) {
      value = JSON.parse(text, exactIntegerId);
    }
  } catch {
    return unparsed(
      reject('MALFORMED_RECORD', 'parse', 'record is not valid JSON', null, previewOf(record.bytes)),
      record.bytes,
    );
  }
  const parsed = parseAction(value);
  if (parsed.ok) return parsed;
  return { ok: false, rejection: { ...parsed.rejection, fingerprint: fingerprintOf(record.bytes) } };
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const INTEGER_LITERAL = /^-?\d+$/;

/**
 * A JSON.parse reviver (with the source text, ES2025) that keeps the digits of an `id` that is an integer
 * literal too large for a double: the record's own, and any nested one of that same rare record.
 */
function exactIntegerId(key: string, value: unknown, context?: { readonly source?: string }): unknown {
  if (key === 'id' && typeof value === 'number' && context?.source !== undefined) {
    if (INTEGER_LITERAL.test(context.source) && !Number.isSafeInteger(value)) return context.source;
  }
  return value;
}

function unparsed(rejection: Rejection, bytes: Uint8Array): ParseResult {
  return { ok: false, rejection: { ...rejection, fingerprint: fingerprintOf(bytes) } };
}
