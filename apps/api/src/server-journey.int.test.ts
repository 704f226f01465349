import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@vsh/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalAwsPort } from './deps.ts';
import { parseEnv } from './env.ts';
import { createLogger } from './logger.ts';
import { startApiServer } from './server.ts';

const OPERATOR = `op_${randomBytes(32).toString('base64url')}`;
const silent = createLogger({ level: 'silent' });

async function call(url: string, method: string, body?: unknown, key = OPERATOR) {
  const response = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, text, body: text === '' ? undefined : JSON.parse(text) };
}

describe('the local server and the tenant journey', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('makes sign-in links and the template download on its own URL, and passes the local deploy port through', async () => {
    const env = parseEnv({
      APP_ENV: 'local',
      OPERATOR_API_KEY: OPERATOR,
      MASTER_KEY: randomBytes(32).toString('base64'),
      DATABASE_URL: database.url,
      AWS_ENDPOINT_URL: 'http://127.0.0.1:5999',
      PORT: '0',
    });
    const deployed: string[] = [];
    const localAws: LocalAwsPort = {
      async deployRole(input) {
        deployed.push(input.accountId);
        return { roleArn: `arn:aws:iam::${input.accountId}:role/${input.parameters.RoleName}` };
      },
    };
    const server = await startApiServer({ env, logger: silent, localAws });
    try {
      const created = await call(`${server.url}/v1/tenants`, 'POST', { name: 'Journey' });
      const tenantId = created.body.tenant.id;
      const link = await call(`${server.url}/v1/tenants/${tenantId}/sign-in-links`, 'POST');
      const destination = await call(`${server.url}/v1/tenants/${tenantId}/destinations`, 'POST', {
        accountId: '161616161616',
        regions: ['us-east-1'],
      });
      const template = await fetch(destination.body.onboarding.templateUrl);
      const deploy = await call(
        `${server.url}/v1/tenants/${tenantId}/destinations/${destination.body.destination.id}/local-deploy`,
        'POST',
      );

      expect(link.status, link.text).toBe(201);
      expect(link.body.url.startsWith(`${server.url}/ui/login/link?token=`)).toBe(true);
      expect(destination.body.onboarding).toMatchObject({ quickCreateUrl: null, localDeployAvailable: true });
      expect(template.status).toBe(200);
      expect(await template.text()).toContain('AWSTemplateFormatVersion');
      expect(deploy.status, deploy.text).toBe(200);
      expect(deployed).toEqual(['161616161616']);
    } finally {
      await server.close();
    }
  });
});
