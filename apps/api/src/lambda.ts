import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readDatabaseUrl, readSecretString } from '@vsh/aws';
import { handle } from 'hono/aws-lambda';
import { parseEnv } from './env.ts';
import { createApiRuntime } from './server.ts';

type Handler = ReturnType<typeof handle>;
let ready: Promise<Handler> | undefined;

/** Cold start: the database URL and the operator key come from Secrets Manager (the central stack's). */
async function build(): Promise<Handler> {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const secrets = new SecretsManagerClient({ region });
  const source: Record<string, string | undefined> = { ...process.env };
  try {
    if (process.env.DATABASE_SECRET_ARN)
      source.DATABASE_URL = await readDatabaseUrl(secrets, process.env.DATABASE_SECRET_ARN);
    if (process.env.OPERATOR_KEY_SECRET_ARN) {
      source.OPERATOR_API_KEY = (await readSecretString(secrets, process.env.OPERATOR_KEY_SECRET_ARN)).trim();
    }
  } finally {
    secrets.destroy();
  }
  const runtime = await createApiRuntime({ env: parseEnv(source) });
  return handle(runtime.app);
}

/** The API Lambda (API Gateway HTTP API, payload v2) through hono/aws-lambda. */
export const handler: Handler = async (event, context) => {
  ready ??= build();
  return (await ready)(event, context);
};
