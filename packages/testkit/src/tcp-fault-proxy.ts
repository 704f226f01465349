import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { z } from 'zod';

/**
 * Faults for a plain TCP dependency (PostgreSQL): what the HTTP fault proxy does for AWS, at the
 * level a database driver sees. Hand-written because the usual tool for this, Toxiproxy, is a Go
 * server this closed network cannot fetch; what is needed here is a few dozen lines of `node:net`.
 */
const range = z
  .tuple([z.number().int().min(0), z.number().int().min(0)])
  .refine(([min, max]) => min <= max, 'the minimum must not exceed the maximum');
const rate = z.number().min(0).max(1);

export const tcpFaultRulesSchema = z
  .object({
    /** Share of new connections closed at once, before any byte reaches the upstream. */
    refuseRate: rate.default(0),
    /** Share of connections cut (both sides destroyed) after a delay drawn from `resetAfterMs`. */
    resetRate: rate.default(0),
    resetAfterMs: range.default([0, 1000]),
    /** Delay added to every chunk in both directions (order kept). */
    latencyMs: range.default([0, 0]),
    /**
     * Cuts a connection the moment its client sends bytes containing `text` (case-insensitive,
     * matched within one chunk), before they reach the upstream; at most `times` connections in all.
     * A cut at a chosen protocol step (a driver's first query after the handshake, say) is what a
     * random delay reaches only by luck.
     */
    cutWhenClientSends: z
      .object({ text: z.string().min(1), times: z.number().int().min(1) })
      .strict()
      .optional(),
  })
  .strict();
export type TcpFaultRules = z.input<typeof tcpFaultRulesSchema>;

export interface TcpFaultProxyStats {
  connections: number;
  refused: number;
  resets: number;
}

export interface TcpFaultProxy {
  readonly host: string;
  readonly port: number;
  /** Replaces the rules; connections already open keep the reset decision they were given. */
  setRules(rules: TcpFaultRules): void;
  stats(): TcpFaultProxyStats;
  /** Cuts every open connection now (a database restart, as its clients see it). */
  resetAll(): number;
  stop(): Promise<void>;
}

export interface TcpFaultProxyOptions {
  readonly upstream: { readonly host: string; readonly port: number };
  readonly rules?: TcpFaultRules;
  /** Random numbers in [0, 1); default Math.random (tests pass a seeded one). */
  readonly random?: () => number;
}

/** Starts a TCP proxy on 127.0.0.1 (a free port) in front of `upstream`, with injectable faults. */
export async function startTcpFaultProxy(options: TcpFaultProxyOptions): Promise<TcpFaultProxy> {
  const random = options.random ?? Math.random;
  let rules = tcpFaultRulesSchema.parse(options.rules ?? {});
  /** Connections cut by `cutWhenClientSends` under the current rules. */
  let cutsOnText = 0;
  const stats: TcpFaultProxyStats = { connections: 0, refused: 0, resets: 0 };
  /** Closers of the connections open now. */
  const open = new Set<() => void>();
  const pick = ([min, max]: readonly [number, number]) => min + Math.floor(random() * (max - min + 1));

  const server: Server = createServer((client) => {
    stats.connections++;
    if (random() < rules.refuseRate) {
      stats.refused++;
      client.destroy();
      return;
    }
    const upstream = createConnection(options.upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      open.delete(close);
    };
    open.add(close);
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.prependListener('data', (chunk: Buffer) => {
      const cutOn = rules.cutWhenClientSends;
      if (cutOn === undefined || cutsOnText >= cutOn.times) return;
      if (!chunk.toString('latin1').toLowerCase().includes(cutOn.text.toLowerCase())) return;
      cutsOnText++;
      stats.resets++;
      // A TCP reset (RST), as a crashed server or a failover sends; the client reads ECONNRESET.
      client.resetAndDestroy();
      close();
    });
    relay(client, upstream, () => pick(rules.latencyMs));
    relay(upstream, client, () => pick(rules.latencyMs));
    if (random() < rules.resetRate) {
      const timer = setTimeout(() => {
        if (!client.destroyed) stats.resets++;
        close();
      }, pick(rules.resetAfterMs));
      timer.unref();
      client.once('close', () => clearTimeout(timer));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the TCP proxy has no address');

  return {
    host: '127.0.0.1',
    port: address.port,
    setRules(next) {
      rules = tcpFaultRulesSchema.parse(next);
      cutsOnText = 0;
    },
    stats: () => ({ ...stats }),
    resetAll() {
      const cut = open.size;
      for (const close of [...open]) close();
      stats.resets += cut;
      return cut;
    },
    async stop() {
      for (const close of [...open]) close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Copies `from` into `to`. A delayed chunk pauses `from` until it is written, so chunks never pass
 * each other; a full `to` pauses `from` until it drains.
 */
function relay(from: Socket, to: Socket, delayMs: () => number): void {
  let delayed = 0;
  let ended = false;
  from.on('data', (chunk: Buffer) => {
    if (to.destroyed) return; // cut by a rule while this chunk was being delivered
    const delay = delayMs();
    if (delay === 0) {
      if (!to.write(chunk)) from.pause();
      return;
    }
    from.pause();
    delayed++;
    setTimeout(() => {
      delayed--;
      if (to.destroyed) return;
      if (to.write(chunk)) from.resume();
      if (ended && delayed === 0) to.end();
    }, delay).unref();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => {
    ended = true;
    if (delayed === 0) to.end();
  });
}
