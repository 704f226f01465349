import { describe, expect, it } from 'vitest';
import { createVaikoraClient } from './client.ts';
import { VaikoraError } from './errors.ts';
import type { FetchLike } from './options.ts';

const KEY = 'vk_test_discover_0123456789';
const BASE = 'https://vaikora.test/api/v1';
const T0 = Date.UTC(2026, 0, 1);

/** A fetch answering each page from `pages` (1-based), recording the URLs it was asked for. */
function paged(pages: unknown[][], status = 200) {
  const urls: URL[] = [];
  const fetch: FetchLike = async (input) => {
    const url = new URL(input);
    urls.push(url);
    const page = Number(url.searchParams.get('page'));
    if (status !== 200) return new Response('{}', { status });
    return new Response(JSON.stringify({ actions: pages[page - 1] ?? [] }), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  };
  return { fetch, urls };
}

const act = (id: string, agentId: string | undefined) => ({
  id,
  timestamp: new Date(T0 - Number(id.replace(/\D/g, '')) * 1000).toISOString(),
  risk_level: 'high',
  ...(agentId === undefined ? {} : { agent_id: agentId }),
});

const full = (prefix: string, agents: string[], perPage: number) =>
  Array.from({ length: perPage }, (_, i) => act(`${prefix}${i}`, agents[i % agents.length]));

describe('discoverAgents', () => {
  it('lists the distinct agents of the pages without agent_id, and stops at a short page', async () => {
    const { fetch, urls } = paged([
      full('p1-', ['agt-a', 'agt-b'], 4),
      [act('p2-1', 'agt-c'), act('p2-2', undefined)],
    ]);
    const client = createVaikoraClient({ apiKey: KEY, baseUrl: BASE, fetch, perPage: 4 });

    const result = await client.discoverAgents();

    expect(result).toEqual({ agents: ['agt-a', 'agt-b', 'agt-c'], complete: true });
    expect(urls).toHaveLength(2);
    expect(urls.every((url) => !url.searchParams.has('agent_id'))).toBe(true);
  });

  it('reads at most maxPages pages and reports the list as incomplete', async () => {
    const pages = Array.from({ length: 10 }, (_, i) => full(`p${i}-`, [`agt-${i}`], 2));
    const { fetch, urls } = paged(pages);
    const client = createVaikoraClient({ apiKey: KEY, baseUrl: BASE, fetch, perPage: 2 });

    const result = await client.discoverAgents({ maxPages: 3 });

    expect(urls).toHaveLength(3);
    expect(result).toEqual({ agents: ['agt-0', 'agt-1', 'agt-2'], complete: false });
  });

  it('stops at maxAgents', async () => {
    const { fetch } = paged([full('p1-', ['a1', 'a2', 'a3', 'a4'], 4)]);
    const client = createVaikoraClient({ apiKey: KEY, baseUrl: BASE, fetch, perPage: 4 });

    const result = await client.discoverAgents({ maxAgents: 2 });

    expect(result).toEqual({ agents: ['a1', 'a2'], complete: false });
  });

  it('throws the typed error of a refusal (a server that needs agent_id answers 400)', async () => {
    const { fetch } = paged([], 400);
    const client = createVaikoraClient({ apiKey: KEY, baseUrl: BASE, fetch });

    const error = await client.discoverAgents().catch((err: unknown) => err);

    expect(error).toBeInstanceOf(VaikoraError);
    expect(error).toMatchObject({ code: 'INVALID_CONFIG', status: 400 });
    expect(String((error as Error).message)).not.toContain(KEY);
  });

  it.each([{ maxPages: 0 }, { maxPages: 21 }, { maxAgents: 0 }, { maxAgents: 1001 }, { retries: 11 }])(
    'refuses bounds outside the limits (%o)',
    async (options) => {
      const { fetch, urls } = paged([]);
      const client = createVaikoraClient({ apiKey: KEY, baseUrl: BASE, fetch });

      await expect(client.discoverAgents(options)).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
      expect(urls).toHaveLength(0);
    },
  );
});
