import { expect } from 'vitest';
import type { Harness } from './harness.ts';

/** A page as the test browser received it. */
export interface PageResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** The CSRF token of the first form of a page. */
export const csrfOf = (html: string): string => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

type App = Harness['app'];

/**
 * A minimal browser that can talk to any API instance (the same browser across several processes, as
 * behind a load balancer): keeps cookies, sends forms (repeated fields for checkbox lists), does not
 * follow redirects, and presents itself from one source address (as @hono/node-server would pass it).
 */
export function multiAppBrowser(address = '198.51.100.7') {
  const cookies = new Map<string, string>();
  const env = { incoming: { socket: { remoteAddress: address } } };
  const remember = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at);
      const value = pair.slice(at + 1);
      if (value === '' || /max-age=0/i.test(line)) cookies.delete(name);
      else cookies.set(name, value);
    }
  };
  const cookieHeader = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const send = async (app: App, path: string, init: RequestInit): Promise<PageResponse> => {
    const res = await app.request(path, init, env);
    remember(res);
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  return {
    cookies,
    get: (app: App, path: string) => send(app, path, { headers: { cookie: cookieHeader() } }),
    post(app: App, path: string, form: Record<string, string | string[]>) {
      const body = new URLSearchParams();
      for (const [name, value] of Object.entries(form)) {
        for (const item of Array.isArray(value) ? value : [value]) body.append(name, item);
      }
      return send(app, path, {
        method: 'POST',
        headers: { cookie: cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
        body: body.toString(),
      });
    },
    /** Signs in through the form (its double-submit token included); returns the sign-in answer. */
    async signIn(app: App, key: string): Promise<PageResponse> {
      const login = await this.get(app, '/ui/login');
      return this.post(app, '/ui/login', { csrf: csrfOf(login.text), key });
    },
  };
}

/** The browser of the page tests, bound to one harness's app. */
export function testBrowser(api: Harness, address = '198.51.100.9') {
  const browser = multiAppBrowser(address);
  return {
    cookies: browser.cookies,
    get: (path: string) => browser.get(api.app, path),
    post: (path: string, form: Record<string, string | string[]>) => browser.post(api.app, path, form),
    /** Signs in with a key through the form; returns where the sign-in sent the browser. */
    async signIn(key: string): Promise<string> {
      const res = await browser.signIn(api.app, key);
      expect(res.status).toBe(303);
      return res.headers.get('location') ?? '';
    },
  };
}

export type TestBrowser = ReturnType<typeof testBrowser>;
