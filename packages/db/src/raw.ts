import { createHash, type Hash } from 'node:crypto';

/** Default budget for a kept raw record, in UTF-8 bytes of its escaped text. */
export const defaultRawBudgetBytes = 8_192;

/** A bad record made safe to keep in `rejected_records` (see `storableRaw`). */
export interface StorableRaw {
  /** The record as escaped text, cut to the budget; null when there is nothing to keep or JSON cannot write it. */
  readonly text: string | null;
  /** UTF-8 size of the whole escaped text `text` starts with (larger than `text` exactly when it was cut). */
  readonly bytes: number | null;
  /** Why there is no text although there was a value (what JSON.stringify threw, or what it cannot write). */
  readonly unstoredReason: string | null;
  /** sha256, base64url, of a canonical text of the value: its identity when the reader gave none. */
  readonly fingerprint: string;
}

/**
 * A bad record as `rejected_records` keeps it; pure and never throws, and every text in the result is one
 * PostgreSQL `text` accepts (no NUL, no lone surrogate). A string (the reader's own text of a record it could
 * not parse) is kept as it is; any other value as its JSON (JSON.stringify writes NUL, control characters
 * and lone surrogates as `\u` escapes, so the text parses back to the value). Either way the characters a
 * database or a page should not receive raw are escaped, and the text is cut on a character boundary to
 * `budgetBytes`. When JSON.stringify throws (a cycle, a BigInt, nesting deeper than the stack) or writes
 * nothing (undefined, a function), there is no text but the reason; the fingerprint is there in every case.
 */
export function storableRaw(value: unknown, budgetBytes: number = defaultRawBudgetBytes): StorableRaw {
  const fingerprint = fingerprintOf(value);
  if (value === undefined) return { text: null, bytes: null, unstoredReason: null, fingerprint };
  let whole: string | undefined;
  try {
    whole = typeof value === 'string' ? value : JSON.stringify(value);
  } catch (error) {
    return {
      text: null,
      bytes: null,
      unstoredReason: `JSON cannot write it: ${summarize(error)}`,
      fingerprint,
    };
  }
  if (typeof whole !== 'string') {
    return { text: null, bytes: null, unstoredReason: `JSON cannot write a ${typeof value}`, fingerprint };
  }
  const budget = Number.isFinite(budgetBytes) ? Math.max(0, Math.floor(budgetBytes)) : defaultRawBudgetBytes;
  const escaped = escapeControlCharacters(whole);
  const bytes = Buffer.byteLength(escaped, 'utf8');
  const text = bytes <= budget ? escaped : cutToBytes(escaped, budget);
  return { text, bytes, unstoredReason: null, fingerprint };
}

/**
 * `text` with every C0 control character (NUL included), DEL, C1 control, line/paragraph separator and
 * lone surrogate written as a `\uXXXX` escape. PostgreSQL refuses NUL in text and jsonb and lone
 * surrogates in jsonb; pages and logs should not carry raw control characters. Inside a JSON string the
 * escape means the same character, so escaped JSON stays the same JSON.
 */
export function escapeControlCharacters(text: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    let unsafe = unit < 0x20 || (unit >= 0x7f && unit <= 0x9f) || unit === 0x2028 || unit === 0x2029;
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      unsafe = true;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      unsafe = true;
    }
    if (unsafe) {
      out += `${text.slice(from, i)}\\u${unit.toString(16).padStart(4, '0')}`;
      from = i + 1;
    }
  }
  return from === 0 ? text : out + text.slice(from);
}

/** `text` escaped (see `escapeControlCharacters`) and cut to at most `maxBytes` UTF-8 bytes, for a short text column. */
export function safeText(text: string, maxBytes: number): string {
  const escaped = escapeControlCharacters(text);
  return Buffer.byteLength(escaped, 'utf8') <= maxBytes ? escaped : cutToBytes(escaped, maxBytes);
}

/** The longest start of `text` within `maxBytes` UTF-8 bytes that does not split a surrogate pair. */
function cutToBytes(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  while (end < text.length) {
    const unit = text.charCodeAt(end);
    const pair = unit >= 0xd800 && unit <= 0xdbff && end + 1 < text.length;
    const size = pair ? 4 : unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3;
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += pair ? 2 : 1;
  }
  return text.slice(0, end);
}

/** An error as `Name: first line of its message`, escaped and short; never throws, whatever was thrown. */
function summarize(error: unknown): string {
  try {
    if (error instanceof Error) {
      const line = String(error.message).split('\n', 1)[0] ?? '';
      return safeText(`${String(error.name)}: ${line}`, 200);
    }
    return safeText(typeof error, 200);
  } catch {
    return 'unknown error';
  }
}

// Bounds on the canonical text: nesting past this depth and nodes past this count are written as a marker,
// so a hostile value costs bounded time and no stack, and two values differing only past them share a fingerprint.
const MAX_CANONICAL_DEPTH = 256;
const MAX_CANONICAL_NODES = 100_000;

/**
 * sha256 (base64url) of a canonical text of `value`: JSON-like with object keys sorted, markers for what
 * JSON cannot write (undefined, BigInt, functions, symbols, cycles, non-finite numbers), Dates, Maps and
 * Sets by their content. Never throws: a value that throws while being read (a getter, a proxy) is
 * fingerprinted by what was read before it threw.
 */
export function fingerprintOf(value: unknown): string {
  const hash = createHash('sha256');
  const state = { nodes: 0 };
  try {
    writeCanonical(hash, value, 0, new Set(), state);
  } catch {
    hash.update('\u0001unreadable');
  }
  return hash.digest('base64url');
}

function writeCanonical(
  hash: Hash,
  value: unknown,
  depth: number,
  ancestors: Set<object>,
  state: { nodes: number },
) {
  state.nodes++;
  if (state.nodes > MAX_CANONICAL_NODES || depth > MAX_CANONICAL_DEPTH) {
    hash.update('{"$cut":true}');
    return;
  }
  switch (typeof value) {
    case 'string':
      hash.update(JSON.stringify(value));
      return;
    case 'number':
      hash.update(Number.isFinite(value) ? JSON.stringify(value) : `{"$number":"${String(value)}"}`);
      return;
    case 'boolean':
      hash.update(value ? 'true' : 'false');
      return;
    case 'bigint':
      hash.update(`{"$bigint":"${value.toString()}"}`);
      return;
    case 'undefined':
      hash.update('{"$undefined":true}');
      return;
    case 'symbol':
      hash.update(`{"$symbol":${JSON.stringify(String(value.description))}}`);
      return;
    case 'function':
      hash.update('{"$function":true}');
      return;
  }
  if (value === null) {
    hash.update('null');
    return;
  }
  const object = value as object;
  if (ancestors.has(object)) {
    hash.update('{"$cycle":true}');
    return;
  }
  ancestors.add(object);
  const tag = Object.prototype.toString.call(object);
  if (Array.isArray(object)) {
    hash.update('[');
    for (let i = 0; i < object.length && state.nodes <= MAX_CANONICAL_NODES; i++) {
      if (i > 0) hash.update(',');
      writeCanonical(hash, object[i], depth + 1, ancestors, state);
    }
    hash.update(']');
  } else if (object instanceof Date) {
    hash.update(`{"$date":${JSON.stringify(String(Date.prototype.getTime.call(object)))}}`);
  } else if (object instanceof Map || object instanceof Set) {
    hash.update(`{"$${object instanceof Map ? 'map' : 'set'}":`);
    writeCanonical(hash, [...object], depth + 1, ancestors, state);
    hash.update('}');
  } else {
    hash.update(tag === '[object Object]' ? '{' : `{"$tag":${JSON.stringify(tag)},`);
    const keys = Object.keys(object).sort();
    keys.forEach((key, i) => {
      if (i > 0) hash.update(',');
      hash.update(`${JSON.stringify(key)}:`);
      writeCanonical(hash, (object as Record<string, unknown>)[key], depth + 1, ancestors, state);
    });
    hash.update('}');
  }
  ancestors.delete(object);
}
