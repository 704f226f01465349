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

/**
 * A minimal browser for the page tests: keeps cookies, sends forms (repeated fields for checkbox lists),
 * does not follow redirects, and presents itself from one source address.
 */
export function testBrowser(api: Harness, address = '198.51.100.9') {
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
  const send = async (path: string, init: RequestInit): Promise<PageResponse> => {
    const res = await api.app.request(path, init, env);
    remember(res);
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  return {
    cookies,
    get: (path: string) => send(path, { headers: { cookie: cookieHeader() } }),
    post(path: string, form: Record<string, string | string[]>) {
      const body = new URLSearchParams();
      for (const [name, value] of Object.entries(form)) {
        for (const item of Array.isArray(value) ? value : [value]) body.append(name, item);
      }
      return send(path, {
        method: 'POST',
        headers: { cookie: cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
        body: body.toString(),
      });
    },
    /** Signs in with a key through the form; returns where the sign-in sent the browser. */
    async signIn(key: string): Promise<string> {
      const login = await this.get('/ui/login');
      const res = await this.post('/ui/login', { csrf: csrfOf(login.text), key });
      expect(res.status).toBe(303);
      return res.headers.get('location') ?? '';
    },
  };
}

export type TestBrowser = ReturnType<typeof testBrowser>;
