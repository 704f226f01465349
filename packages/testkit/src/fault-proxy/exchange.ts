/** One HTTP exchange of the fault proxy: reading the request body (bounded) and writing answers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OperationStats } from './stats.ts';
import type { UpstreamResponse } from './upstream.ts';
import { copyHeaders, type RequestInfo, type WireResponse } from './wire.ts';

const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** A request read whole, what it is, and the counters of its operation. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  body: Buffer;
  info: RequestInfo;
  stats: OperationStats;
}

/** The request body; undefined when it exceeds 16 MiB (the rest is drained). */
export function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    // A client that hangs up mid-body emits neither 'end' nor always 'error'; without this the
    // exchange would wait forever. After 'end' this is a no-op.
    req.on('close', () => reject(new Error('client closed the request before sending its body')));
  });
}

/** Writes an answer unless the response is already under way or gone. */
export function send(res: ServerResponse, response: WireResponse): void {
  if (res.headersSent || res.destroyed || res.writableEnded) return;
  const body = Buffer.from(response.body, 'utf8');
  res.writeHead(response.status, { ...response.headers, 'content-length': body.length });
  res.end(body);
}

/** Relays an upstream answer (hop-by-hop headers dropped), optionally with another body. */
export function relay(res: ServerResponse, answer: UpstreamResponse, body: Buffer = answer.body): void {
  if (res.headersSent || res.destroyed || res.writableEnded) return;
  res.writeHead(answer.status, { ...copyHeaders(answer.headers), 'content-length': body.length });
  res.end(body);
}
