import { describe, expect, it } from 'vitest';
import {
  createVaikoraClient,
  EXPECTED_LATE_PAGES,
  LATE_PAGES,
  type SweepOptions,
  type VaikoraClient,
  type VaikoraPage,
} from './client.ts';
import type { FetchLike } from './options.ts';

/**
 * ADR 0131: a list in newest-INGESTED-first order whose `timestamp` is the
 * agent's own clock. An agent that was offline uploads its buffer (more than one page of actions stamped
 * 30 to 60 minutes ago); the list's head is then a full page older than the cursor's window, and the
 * punctual actions of the last few minutes sit on page 2.
 */

const T0 = Date.UTC(2026, 0, 1, 12);
const MIN = 60_000;

const page = (records: { id: string; ms: number }[], n: number, total: number) =>
  JSON.stringify({
    actions: records.map((r) => ({ id: r.id, timestamp: new Date(r.ms).toISOString(), risk_level: 'high' })),
    total,
    page: n,
    per_page: 100,
  });

describe('the stop rule on a list ordered by arrival, not by timestamp (ADR 0131)', () => {
  /** Pages as given (then empty pages), `total` their sum; the pages requested. */
  function server(pages: { id: string; ms: number }[][]) {
    const total = pages.reduce((n, p) => n + p.length, 0);
    const requested: number[] = [];
    const fetch: FetchLike = async (input) => {
      const n = Number(new URL(input).searchParams.get('page'));
      requested.push(n);
      return new Response(page(pages[n - 1] ?? [], n, total), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    };
    const client = createVaikoraClient({
      baseUrl: 'https://vaikora.test/api/v1',
      apiKey: 'vk_test_order',
      fetch,
    });
    return { client, requested };
  }
  // Page 1: 100 buffered actions stamped 60..30 minutes ago, newest first (desc evidence).
  const late = (from: number) =>
    Array.from({ length: 100 }, (_, i) => ({
      id: `late-${from + i}`,
      ms: T0 - 30 * MIN - (from + i) * 1000,
    }));
  // 50 actions stamped in the last 5 minutes (inside the window).
  const punctual = Array.from({ length: 50 }, (_, i) => ({ id: `new-${i}`, ms: T0 - i * 6000 }));
  // The stream's window starts 15 minutes ago (cursor 5 minutes ago, 10 minutes of overlap).
  const stopBeforeMs = T0 - 15 * MIN;
  // A stream with a cursor whose handled actions are not in this list (deleted, or never listed here).
  const handledNone = () => false;
  /** The caller's answer when the actions in `handled` are those its earlier sweeps handled. */
  const metAny =
    (handled: readonly { id: string }[]) =>
    (actions: readonly { id: string }[]): boolean => {
      const ids = new Set(handled.map((a) => a.id));
      return actions.some((a) => ids.has(a.id));
    };
  /** Every page of one sweep. */
  const sweepAll = async (client: VaikoraClient, options: SweepOptions) => {
    const pages: VaikoraPage[] = [];
    for await (const p of client.sweep(options)) pages.push(p);
    return pages;
  };

  it('reads past a full page of late uploads to the punctual actions behind it, when the stream has a cursor', async () => {
    const { client, requested } = server([late(0), punctual]);

    const pages = await sweepAll(client, { stopBeforeMs, metHandled: handledNone });

    expect(
      pages.flatMap((p) => p.actions.map((a) => a.id)).filter((id) => id.startsWith('new-')),
    ).toHaveLength(50);
    expect(requested).toEqual([1, 2]);
    expect(pages.at(-1)?.stop).toBe('end');
  });

  it('reads past late uploads even when a new action heads the list (one action of now is not the handled range)', async () => {
    const fresh = { id: 'fresh', ms: T0 };
    // The handled range: the actions the last run sent, stamped 14 to 6 minutes ago, behind the uploads.
    const handled = Array.from({ length: 20 }, (_, i) => ({ id: `old-${i}`, ms: T0 - 6 * MIN - i * 20_000 }));
    const { client, requested } = server([
      [fresh, ...late(0).slice(0, 99)],
      late(99),
      [...punctual, ...handled],
    ]);

    const pages = await sweepAll(client, { stopBeforeMs, metHandled: metAny(handled) });

    const ids = pages.flatMap((p) => p.actions.map((a) => a.id));
    expect(ids.filter((id) => id.startsWith('new-'))).toHaveLength(50);
    expect(requested).toEqual([1, 2, 3]);
  });

  it('stops at the first page older than the window for a stream without a cursor (nothing expected there)', async () => {
    const { client, requested } = server([late(0), punctual]);

    const pages = await sweepAll(client, { stopBeforeMs });

    expect(requested).toEqual([1]);
    expect(pages.at(-1)?.stop).toBe('cursor');
  });

  it('reads past an upload headed by an action stamped inside the handled range that no run handled (hostile probe; ADR 0131 revised)', async () => {
    // The upload's newest action is stamped a minute before the position (9 minutes after the window's
    // start): by its time it is in the range the stream handled, but no run has read it. Before ADR 0142
    // its time alone ended the sweep at the upload's second page, and the actions behind it were lost.
    const inRange = { id: 'buffered-in-range', ms: T0 - 6 * MIN };
    const handled = Array.from({ length: 20 }, (_, i) => ({ id: `old-${i}`, ms: T0 - 6 * MIN - i * 20_000 }));
    const { client, requested } = server([
      [inRange, ...late(0).slice(0, 99)],
      late(99),
      [...punctual, ...handled],
    ]);

    const pages = await sweepAll(client, { stopBeforeMs, metHandled: metAny(handled) });

    expect(requested).toEqual([1, 2, 3]);
    expect(
      pages.flatMap((p) => p.actions.map((a) => a.id)).filter((id) => id.startsWith('new-')),
    ).toHaveLength(50);
  });

  it('stops at the first page older than the window once it met an action a run handled', async () => {
    const handled = Array.from({ length: 100 }, (_, i) => ({ id: `old-${i}`, ms: T0 - 5 * MIN - i * 1000 }));
    const { client, requested } = server([handled, late(0), late(100)]);

    const pages = await sweepAll(client, { stopBeforeMs, metHandled: metAny(handled) });

    expect(requested).toEqual([1, 2]);
    expect(pages.at(-1)?.stop).toBe('cursor');
  });

  it('asks whether an action was handled only once the caller has taken its page (the worker reads its seen-set then)', async () => {
    const handled = Array.from({ length: 100 }, (_, i) => ({ id: `old-${i}`, ms: T0 - 5 * MIN - i * 1000 }));
    const { client, requested } = server([handled, late(0), late(100)]);
    // What the caller knows: filled as it takes each page, as the worker's seen-set read is.
    const known = new Set<string>();
    const asked: string[] = [];

    for await (const p of client.sweep({
      stopBeforeMs,
      metHandled: (actions) => {
        asked.push(...actions.map((a) => a.id));
        return actions.some((a) => known.has(a.id));
      },
    })) {
      for (const a of p.actions) if (a.id.startsWith('old-')) known.add(a.id);
    }

    expect(requested).toEqual([1, 2]);
    expect(asked[0]).toBe('old-0');
  });

  it('reads at most LATE_PAGES pages past the first that could stop: a stream whose last actions were deleted', async () => {
    const { client, requested } = server([late(0), late(100), late(200), late(300), late(400), late(500)]);

    const pages = await sweepAll(client, { stopBeforeMs, metHandled: handledNone });

    expect(requested).toHaveLength(1 + LATE_PAGES);
    expect(pages.at(-1)?.stop).toBe('cursor');
  });

  it('reads up to EXPECTED_LATE_PAGES past the stop while the caller expects handled actions it has not met, and stops once they are met (ADR 0145)', async () => {
    // An upload of 8 pages ahead of the punctual actions, then the actions an earlier run handled.
    const handled = Array.from({ length: 30 }, (_, i) => ({ id: `old-${i}`, ms: T0 - 6 * MIN - i * 1000 }));
    const uploads = Array.from({ length: 8 }, (_, i) => late(i * 100));
    const { client, requested } = server([...uploads, [...punctual, ...handled], late(800), late(900)]);
    let expecting = true;

    const pages = await sweepAll(client, {
      stopBeforeMs,
      metHandled: (actions) => {
        if (actions.some((a) => a.id === 'old-29')) expecting = false;
        return !expecting;
      },
      expectsHandled: () => expecting,
    });

    // Pages 1-8 (the upload), 9 (the punctual and handled actions), then the stop at page 10.
    expect(requested).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(pages.flatMap((p) => p.actions.map((a) => a.id))).toContain('new-0');
    expect(pages.at(-1)?.stop).toBe('cursor');
  });

  it('reads at most EXPECTED_LATE_PAGES past the stop while an expectation is never met: actions of the window deleted', async () => {
    const { client, requested } = server(Array.from({ length: 30 }, (_, i) => late(i * 100)));

    const pages = await sweepAll(client, {
      stopBeforeMs,
      metHandled: handledNone,
      expectsHandled: () => true,
    });

    expect(requested).toHaveLength(1 + EXPECTED_LATE_PAGES);
    expect(pages.at(-1)?.stop).toBe('cursor');
  });
});

const rec2 = (i: number, ms: number) => ({
  id: `a-${i}`,
  timestamp: new Date(ms).toISOString(),
  risk_level: 'high',
});

function pagedServer(list: readonly unknown[], fail: (page: number, n: number) => boolean = () => false) {
  let requests = 0;
  const fetch: FetchLike = async (input) => {
    const url = new URL(input);
    const page = Number(url.searchParams.get('page'));
    const perPage = Number(url.searchParams.get('per_page'));
    requests++;
    if (fail(page, requests)) return new Response('{"error":"busy"}', { status: 400 });
    const body = {
      actions: list.slice((page - 1) * perPage, page * perPage),
      total: list.length,
      page,
      per_page: perPage,
    };
    return new Response(JSON.stringify(body), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  };
  const client = createVaikoraClient({
    baseUrl: 'https://vaikora.test/api/v1',
    apiKey: 'vk_test_x',
    fetch,
    sleep: async () => undefined,
  });
  return { client, requests: () => requests };
}

describe('an oldest-first list read again where it may have moved (ADR 0134, review)', () => {
  it('a sweep over an oldest-first list wholly inside the window (a first run) reads each page after the first twice: what it costs', async () => {
    // 2000 actions over the last 20 hours, oldest first; the window is the 24 h of a new stream.
    const list = Array.from({ length: 2000 }, (_, i) => rec2(i, T0 - 20 * 60 * MIN + i * 36_000));
    const s = pagedServer(list);
    const pages: VaikoraPage[] = [];
    for await (const p of s.client.sweep({ stopBeforeMs: T0 - 24 * 60 * MIN })) pages.push(p);
    expect(pages.reduce((n, p) => n + p.actions.length, 0)).toBe(2000);
    // 20 full pages and the empty 21st, and pages 1 to 19 again after the next one: whether the list
    // moved cannot be told from `total`, so a page in the window is always looked back from.
    expect(s.requests()).toBe(21 + 19);
  });

  it('a look back that fails does not fail the sweep, but keeps it from ending complete (the next run reads the range again)', async () => {
    const list = Array.from({ length: 150 }, (_, i) => rec2(i, T0 - 60 * MIN + i * 1000));
    // Page 1 answers the first time only (a hostile or flaky server); the re-read is refused (400).
    const s = pagedServer(list, (page, n) => page === 1 && n > 1);
    const pages: VaikoraPage[] = [];
    let error: unknown = null;
    try {
      for await (const p of s.client.sweep({ stopBeforeMs: T0 - 24 * 60 * MIN })) pages.push(p);
    } catch (err) {
      error = err;
    }
    expect({
      error,
      delivered: pages.reduce((n, p) => n + p.actions.length, 0),
      lastStop: pages.at(-1)?.stop,
    }).toEqual({
      error: null,
      delivered: 150,
      lastStop: null,
    });
  });
});
