import { finished, pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { request } from 'undici';
import type { FetchLike } from './options.ts';

/** One GET of a page: what the client needs of the answer, whatever carried it. */
export interface PageResponse {
  readonly status: number;
  header(name: string): string | null;
  /** The body as the server sent it, decoded from any content-encoding; null when there is none. */
  readonly body: AsyncIterable<Uint8Array> | null;
  /** Frees a body the client does not read (an error status). Never throws. */
  discard(): Promise<void>;
}

interface PageGet {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
}

/** The port the client sends its requests through (default `undiciTransport`). */
export type PageTransport = (get: PageGet) => Promise<PageResponse>;

/**
 * A caller's `fetch` (tests, the CLI, the API's verify): redirects are not followed (a redirect would
 * carry X-API-Key to wherever it points; fetch only strips Authorization).
 */
export function fetchTransport(doFetch: FetchLike): PageTransport {
  return async ({ url, headers, signal }) => {
    const response = await doFetch(url, { method: 'GET', headers, redirect: 'manual', signal });
    return {
      status: response.status,
      header: (name) => response.headers.get(name),
      body: response.body,
      async discard() {
        try {
          await response.body?.cancel();
        } catch {
          // Nothing to free if the stream already failed.
        }
      },
    };
  };
}

/**
 * The worker's transport: undici's `request` on its global dispatcher (the pool `fetch` would use too).
 * Not `fetch`: its WHATWG layer (Request, Response, Headers, web streams) made a one-page sweep cost
 * half as much CPU again as `request` does (`bench:transport`, ADR 0139), and every run of every tenant
 * makes at least one. `request` follows no redirect and asks for no compression; a body the server
 * compresses anyway is decoded as `fetch` decodes it (`decoders`), so the page's byte bound still
 * counts decoded bytes. The decoders stop with the request's signal, and a discarded body is destroyed
 * at once (an error body that stalls must not hold the attempt until its timeout).
 */
export function undiciTransport(): PageTransport {
  return async ({ url, headers, signal }) => {
    const response = await request(url, { method: 'GET', headers, signal });
    const raw = response.body;
    const status = response.statusCode;
    let chain: Transform[];
    try {
      chain = NULL_BODY_STATUS.has(status) ? [] : decoders(headerOf(response.headers, 'content-encoding'));
    } catch (err) {
      destroyUnread(raw);
      throw err;
    }
    const last = chain.at(-1);
    let body: Readable = raw;
    if (last !== undefined) {
      // A truncated or corrupt stream fails the read as a network failure does; a read stopped early
      // (the page's bounds) destroys every stream, so the connection is not left holding an unread body.
      pipeline([raw, ...chain], () => undefined);
      body = last;
      // The request's signal (the attempt's timeout, the caller) reaches undici's body only: once that
      // has arrived, only this stops decoders still at work.
      const stop = () => last.destroy(signalError(signal));
      if (signal.aborted) stop();
      else {
        signal.addEventListener('abort', stop, { once: true });
        last.once('close', () => signal.removeEventListener('abort', stop));
      }
    }
    return {
      status,
      header: (name) => headerOf(response.headers, name),
      body,
      async discard() {
        // Destroyed, as fetch's cancel() does: reading an error body to its end to keep the connection
        // would wait as long as the server stalls it.
        destroyUnread(body);
        destroyUnread(raw);
      },
    };
  };
}

function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string | null {
  const value = headers[name.toLowerCase()];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Statuses whose response has no body (fetch's "null body status"): nothing to decode. */
const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

/** More codings than this fail the request, as in undici's fetch (its fix for CVE-style decoder chains). */
const MAX_CONTENT_CODINGS = 5;

/**
 * The decoders of a `content-encoding` list, the last applied first, as undici's fetch builds them
 * (lib/web/fetch/index.js, which exports none of this): gzip, deflate (with or without its zlib
 * header), br and, where Node has it, zstd, each lenient at the end of the stream as curl and browsers
 * are; none when the list names another coding (the body is passed on as it came); more than
 * MAX_CONTENT_CODINGS is an error. undici's `interceptors.decompress` is experimental (it warns), is
 * strict at the end of a stream and reads deflate only with its header.
 */
function decoders(encoding: string | null): Transform[] {
  const codings = encoding === null ? [] : encoding.toLowerCase().split(',');
  if (codings.length > MAX_CONTENT_CODINGS) {
    throw new Error(
      `too many content-encodings in response: ${codings.length}, maximum allowed is ${MAX_CONTENT_CODINGS}`,
    );
  }
  const chain: Transform[] = [];
  for (const coding of codings.map((c) => c.trim()).reverse()) {
    if (coding === '' || coding === 'identity') continue;
    const decoder = decoderFor(coding);
    if (decoder === undefined) {
      for (const d of chain) d.destroy();
      return [];
    }
    chain.push(decoder);
  }
  return chain;
}

const LENIENT = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };

function decoderFor(coding: string): Transform | undefined {
  if (coding === 'gzip' || coding === 'x-gzip') return zlib.createGunzip(LENIENT);
  if (coding === 'deflate') return new InflateEither();
  if (coding === 'br') {
    return zlib.createBrotliDecompress({
      flush: zlib.constants.BROTLI_OPERATION_FLUSH,
      finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH,
    });
  }
  if (coding === 'zstd' && typeof zlib.createZstdDecompress === 'function') {
    return zlib.createZstdDecompress({
      flush: zlib.constants.ZSTD_e_continue,
      finishFlush: zlib.constants.ZSTD_e_end,
    });
  }
  return undefined;
}

/**
 * `deflate` as servers send it: with its zlib header (RFC 1950) or without (raw RFC 1951), told apart by
 * the first byte as undici's fetch does.
 */
class InflateEither extends Transform {
  private inner: Transform | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.inner === undefined) {
      if (chunk.length === 0) {
        callback();
        return;
      }
      const zlibWrapped = ((chunk[0] as number) & 0x0f) === 0x08;
      const inner = zlibWrapped ? zlib.createInflate(LENIENT) : zlib.createInflateRaw(LENIENT);
      inner.on('data', (data: Buffer) => this.push(data));
      inner.on('error', (err) => this.destroy(err));
      this.inner = inner;
    }
    this.inner.write(chunk, callback);
  }

  // The readable side ends (the Transform's own end) once the inner stream gave all it had.
  override _flush(callback: TransformCallback): void {
    const inner = this.inner;
    if (inner === undefined) {
      callback();
      return;
    }
    finished(inner, { writable: false }, (err) => callback(err ?? null));
    inner.end();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inner?.destroy();
    callback(error);
  }
}

/** Destroys a body nobody reads: undici's emits the abort it makes of it as an 'error', handled here. */
function destroyUnread(stream: Readable): void {
  stream.on('error', () => undefined);
  stream.destroy();
}

function signalError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error('the request was aborted');
}
