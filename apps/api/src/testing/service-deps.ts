import { type Tenant, tenants } from '@vsh/db';
import { createTestDatabase } from '@vsh/db/testing';
import { afterAll, beforeAll } from 'vitest';
import type { ApiDeps } from '../deps.ts';
import type { Actor } from '../lib/audit.ts';
import { ServiceError } from '../services/errors.ts';
import { testApiDeps } from './harness.ts';

/** The operator acting in a service test. */
export const OPERATOR: Actor = { principal: { kind: 'operator', id: 'operator' }, requestId: 'req_test' };

/** The application layer's dependencies on a fresh PostgreSQL database of its own, for its tests. */
export interface ServiceTestbed {
  deps: ApiDeps;
  /** A new active tenant, inserted directly (not through the service under test). */
  tenant(name?: string): Promise<Tenant>;
  close(): Promise<void>;
}

/** Builds a testbed; `overrides` replace any dependency (a clock, a failing port, a stub client). */
async function serviceTestbed(overrides: Partial<ApiDeps> = {}): Promise<ServiceTestbed> {
  const database = await createTestDatabase();
  const deps = testApiDeps({ db: database.db, ...overrides });
  return {
    deps,
    async tenant(name = 'Acme') {
      const [row] = await database.db.insert(tenants).values({ name }).returning();
      if (row === undefined) throw new Error('insert into tenants returned no row');
      return row;
    },
    close: () => database.drop(),
  };
}

/** A testbed for the whole test file: built before its tests, its database dropped after them. */
export function useServiceTestbed(overrides: Partial<ApiDeps> = {}): Omit<ServiceTestbed, 'close'> {
  let bed: ServiceTestbed | undefined;
  const live = () => {
    if (bed === undefined) throw new Error('testbed used before beforeAll');
    return bed;
  };
  beforeAll(async () => {
    bed = await serviceTestbed(overrides);
  });
  afterAll(async () => {
    await bed?.close();
  });
  return {
    get deps() {
      return live().deps;
    },
    tenant: (name) => live().tenant(name),
  };
}

/** The code and message of the ServiceError a call refuses with; fails when it succeeds or throws another error. */
export async function refusalOf(call: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(err instanceof ServiceError)) throw new Error(`expected a ServiceError, got ${String(err)}`);
  return { code: err.code, message: err.message };
}
