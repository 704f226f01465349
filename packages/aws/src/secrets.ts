import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';

const databaseSecretSchema = z.object({
  host: z.string().min(1),
  port: z.coerce.number().int().positive().default(5432),
  username: z.string().min(1),
  password: z.string().min(1),
  dbname: z.string().min(1).default('postgres'),
});

/** The string value of a Secrets Manager secret (never logged by this module). */
export async function readSecretString(client: SecretsManagerClient, secretId: string): Promise<string> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (out.SecretString === undefined || out.SecretString === '')
    throw new Error(`secret ${secretId} has no string value`);
  return out.SecretString;
}

/**
 * A PostgreSQL URL from a secret shaped like RDS's ({host, port, username, password, dbname}), as the
 * central stack creates it; errors name the missing fields, never their values.
 */
export async function readDatabaseUrl(client: SecretsManagerClient, secretId: string): Promise<string> {
  let json: unknown;
  try {
    json = JSON.parse(await readSecretString(client, secretId));
  } catch (err) {
    if (err instanceof SyntaxError) throw new Error(`secret ${secretId} is not JSON`);
    throw err;
  }
  const parsed = databaseSecretSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(
      `secret ${secretId} lacks ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`,
    );
  }
  const { host, port, username, password, dbname } = parsed.data;
  return `postgres://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(dbname)}?sslmode=require`;
}
