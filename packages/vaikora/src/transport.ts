import { pipeline, type Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
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
 * makes at least one. `request` follows no redirect and asks for no compression;
 * a body the server compresses anyway is decoded as `fetch` would (gzip, deflate, br), so the page's
 * byte bound still counts decoded bytes.
 */
export function undiciTransport(): PageTransport {
  return async ({ url, headers, signal }) => {
    const response = await request(url, { method: 'GET', headers, signal });
    const raw = response.body;
    const encoding = headerOf(response.headers, 'content-encoding')?.toLowerCase();
    const body = decoded(raw, encoding);
    return {
      status: response.statusCode,
      header: (name) => headerOf(response.headers, name),
      body,
      async discard() {
        try {
          await raw.dump();
        } catch {
          // Nothing to free if the stream already failed.
        }
      },
    };
  };
}

function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string | null {
  const value = headers[name.toLowerCase()];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The body decoded as fetch decodes it: each coding of `content-encoding` (gzip, deflate, br; identity
 * ignored) undone, the last applied first; a list naming any other is passed on as it is.
 */
function decoded(raw: Readable, encoding: string | undefined): AsyncIterable<Uint8Array> {
  const codings = (encoding ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '' && c !== 'identity')
    .reverse();
  const decoders: Transform[] = [];
  for (const coding of codings) {
    const decoder =
      coding === 'gzip' || coding === 'x-gzip'
        ? createGunzip()
        : coding === 'deflate'
          ? createInflate()
          : coding === 'br'
            ? createBrotliDecompress()
            : undefined;
    if (decoder === undefined) {
      for (const d of decoders) d.destroy();
      return raw;
    }
    decoders.push(decoder);
  }
  const last = decoders.at(-1);
  if (last === undefined) return raw;
  // A truncated or corrupt stream fails the read as a network failure does; a read stopped early (the
  // page's bounds) destroys every stream, so the connection is not left holding an unread body.
  pipeline([raw, ...decoders], () => undefined);
  return last;
}
