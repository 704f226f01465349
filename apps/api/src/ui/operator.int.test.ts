import { tenants } from '@vsh/db';
import { describe, expect, it } from 'vitest';
import { testBrowser } from '../testing/browser.ts';
import { seedRun, TEST_OPERATOR_KEY, useHarness } from '../testing/harness.ts';
import { OVERVIEW_PAGE_SIZE } from './data.ts';

const api = useHarness();

const tenantsOn = (page: string) => [...page.matchAll(/<tr data-tenant="([^"]+)"/g)].map((m) => m[1] ?? '');
const linkOf = (page: string, rel: 'prev' | 'next') =>
  new RegExp(`<a rel="${rel}"[^>]*href="([^"]+)"`).exec(page)?.[1]?.replaceAll('&amp;', '&');

describe('the operator overview pages through tenants by name (issue 17)', () => {
  it('shows a page of tenants at a time with next and previous links, every tenant once, failing first on a page', async () => {
    const total = OVERVIEW_PAGE_SIZE * 2 + 7;
    const made = await api.db
      .insert(tenants)
      .values(Array.from({ length: total }, (_, i) => ({ name: `Overview ${String(i).padStart(3, '0')}` })))
      .returning();
    const failing = made[OVERVIEW_PAGE_SIZE + 3];
    if (failing === undefined) throw new Error('no tenant to fail');
    await seedRun(api.db, failing.id, { status: 'failed', errorCode: 'AWS_UNAVAILABLE' });
    const operator = testBrowser(api);
    await operator.signIn(TEST_OPERATOR_KEY);

    const first = await operator.get('/ui/operator');
    const second = await operator.get(linkOf(first.text, 'next') ?? '');
    const third = await operator.get(linkOf(second.text, 'next') ?? '');
    const back = await operator.get(linkOf(second.text, 'prev') ?? '');
    const forged = await operator.get('/ui/operator?after=not-a-cursor');
    // Past the last tenant by name: an empty page still counts every tenant.
    const past = Buffer.from(JSON.stringify(['\uffff', 'ten_zzzz']), 'utf8').toString('base64url');
    const beyond = await operator.get(`/ui/operator?after=${past}`);

    expect([first.status, second.status, third.status, back.status]).toEqual([200, 200, 200, 200]);
    expect(tenantsOn(first.text)).toHaveLength(OVERVIEW_PAGE_SIZE);
    expect(linkOf(first.text, 'prev')).toBeUndefined();
    expect(linkOf(third.text, 'next')).toBeUndefined();
    const seen = [...tenantsOn(first.text), ...tenantsOn(second.text), ...tenantsOn(third.text)];
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => made.some((t) => t.id === id))).toHaveLength(total);
    expect(tenantsOn(back.text)).toEqual(tenantsOn(first.text));
    expect(tenantsOn(second.text)[0]).toBe(failing.id);
    expect(first.text).toContain(`<div class="stat"><dt>Tenants</dt><dd>${seen.length}</dd></div>`);
    expect(forged.status).toBe(400);
    expect(tenantsOn(beyond.text)).toEqual([]);
    expect(beyond.text).toContain(`<div class="stat"><dt>Tenants</dt><dd>${seen.length}</dd></div>`);
  });
});
