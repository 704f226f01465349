/** Appended where a string was cut to fit a Security Hub limit. */
export const TRUNCATION_MARK = '…[truncated]';

// C0/C1 controls, line/paragraph separators, and bidi overrides/isolates (Trojan Source):
// replaced by a space so words stay apart. Security Hub's NonEmptyString pattern `.*\S.*`
// does not match across line breaks, so newlines go too.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]+/g;
const HAS_UNSAFE = new RegExp(UNSAFE.source);
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const SPACES = / {2,}/g;

/** Strips control, bidi-override and lone-surrogate characters, folds runs of spaces and trims. */
export function cleanText(value: string): string {
  let out = value;
  if (HAS_UNSAFE.test(out)) out = out.replace(UNSAFE, ' ');
  if (!out.isWellFormed()) out = out.replace(LONE_SURROGATE, '\ufffd');
  if (out.includes('  ')) out = out.replace(SPACES, ' ');
  return out.trim();
}

/**
 * Cuts a string to at most `max` UTF-16 code units (Security Hub counts characters), marking the cut
 * and never splitting a surrogate pair.
 */
export function truncate(value: string, max: number): string {
  if (value.length <= max) return value;
  if (max <= TRUNCATION_MARK.length) return cutAt(value, max);
  return `${cutAt(value, max - TRUNCATION_MARK.length).trimEnd()}${TRUNCATION_MARK}`;
}

function cutAt(value: string, end: number): string {
  const last = value.charCodeAt(end - 1);
  const cut = last >= 0xd800 && last <= 0xdbff ? end - 1 : end;
  return value.slice(0, cut);
}

// Characters cleanText would change (surrogates, even paired ones, send a string down the full
// path, which is correct, only slower). A plain character class: one fast scan. Doubled spaces and
// whitespace at either end are checked apart, because alternatives in one regex (`| {2}|^\s|\s$`)
// made V8 try each at every position: measured as a quarter of the mapping time.
const NEEDS_CLEANING =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it detects
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]/;

/** Whether the UTF-16 unit is one that JavaScript's `\s` (and so `trim`) matches. */
export function isSpace(c: number): boolean {
  if (c < 0x80) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** True when cleanText would return the string unchanged (the common case, decided cheaply). */
function isClean(value: string): boolean {
  return (
    value.length > 0 &&
    !isSpace(value.charCodeAt(0)) &&
    !isSpace(value.charCodeAt(value.length - 1)) &&
    !NEEDS_CLEANING.test(value) &&
    !value.includes('  ')
  );
}

/** Cleans then truncates: the form every string from an action takes before it enters a finding. */
export function safeText(value: string, max: number): string {
  if (value.length <= max && isClean(value)) return value;
  // Cleaning never lengthens a string, so a prefix a little longer than the limit is all that can
  // show: the rest of a huge hostile value is never scanned (a 100 KB field costs what a 1 KB one does).
  const window = max + 64;
  if (value.length <= window) return truncate(cleanText(value), max);
  const cleaned = cleanText(value.slice(0, window));
  return `${cutAt(cleaned, Math.min(cleaned.length, max - TRUNCATION_MARK.length)).trimEnd()}${TRUNCATION_MARK}`;
}

/** Cleaned and truncated, or `fallback` when nothing printable is left. */
export function safeTextOr(value: string | undefined, max: number, fallback: string): string {
  if (value === undefined) return fallback;
  const out = safeText(value, max);
  return out.length > 0 ? out : fallback;
}

/** Exact UTF-8 byte length of a string (a lone surrogate counts as the 3-byte replacement). */
export function utf8Length(value: string): number {
  let bytes = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}
