// The CPU one call costs a worker-like process on this machine, whatever the call carries (issue 16):
// a DynamoDB GetItem through the AWS SDK (the worker's client, as main.ts builds it), a PostgreSQL
// statement through drizzle and postgres-js, an HTTP GET through fetch (as the Vaikora client sends
// it). Measured in a child process of its own, so that only the caller's CPU is counted (not the
// servers', not the benchmark's), 4 calls in flight as a worker has runs, warm (see WARM_UP). bench:fanout
// multiplies these by the calls an idle run makes: the CPU no run of this design can go below here.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { createDb } from '@vsh/db';
import { sql } from 'drizzle-orm';
import { stateClientOptions } from '../src/runtime.ts';

/** CPU milliseconds per call, by kind. */
export interface CallFloor {
  readonly dynamodb: number;
  readonly postgres: number;
  readonly http: number;
}

export interface CallFloorTargets {
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  readonly databaseUrl: string;
}

const CALLS = 3000;
/**
 * Calls before the measured ones: the JIT needs thousands before a call's cost settles (measured: a
 * DynamoDB GetItem cost 0.75 ms of CPU over the first 3,000 calls of a process and 0.44 ms over the
 * next 3,000), and a worker that has run a few hundred tenants is past that.
 */
const WARM_UP = 6000;
const IN_FLIGHT = 4;

/**
 * Runs the measurement in a child process and returns what it printed. The HTTP server answers in this
 * process, so the child's CPU is the client's only.
 */
export async function measureCallFloor(targets: CallFloorTargets): Promise<CallFloor> {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"data":[]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const httpUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/`;
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        FLOOR_TARGETS: JSON.stringify({ ...targets, httpUrl }),
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`call-floor child exited with ${code}: ${out}`);
    return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as CallFloor;
  } finally {
    server.close();
  }
}

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** CPU ms per call of `call`, IN_FLIGHT at a time, after WARM_UP calls made the same way. */
async function perCall(call: () => Promise<unknown>): Promise<number> {
  const round = async (calls: number): Promise<number> => {
    const before = cpuMs();
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next++ < calls) await call();
      }),
    );
    return (cpuMs() - before) / calls;
  };
  await round(WARM_UP);
  return round(CALLS);
}

async function child(targets: CallFloorTargets & { readonly httpUrl: string }): Promise<CallFloor> {
  // As main.ts builds it (its request handler and middleware cache).
  const dynamodb = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: targets.dynamoEndpoint,
    ...stateClientOptions(),
  });
  const database = await createDb({ kind: 'postgres', url: targets.databaseUrl, max: IN_FLIGHT });
  try {
    return {
      dynamodb: await perCall(() =>
        dynamodb.send(
          new GetItemCommand({
            TableName: targets.tableName,
            Key: { pk: { S: 'TENANT#call-floor' }, sk: { S: 'LEASE' } },
            ConsistentRead: true,
          }),
        ),
      ),
      postgres: await perCall(() => database.db.execute(sql`select 1`)),
      http: await perCall(async () => (await fetch(targets.httpUrl)).text()),
    };
  } finally {
    dynamodb.destroy();
    await database.close();
  }
}

if (process.argv[2] === '--child') {
  const targets = JSON.parse(process.env.FLOOR_TARGETS ?? '{}') as CallFloorTargets & { httpUrl: string };
  console.log(JSON.stringify(await child(targets)));
}
