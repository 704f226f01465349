import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateKeyCommand, DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  BatchImportFindingsCommand,
  DescribeHubCommand,
  EnableSecurityHubCommand,
  GetFindingsCommand,
  SecurityHubClient,
} from '@aws-sdk/client-securityhub';
import {
  CreateQueueCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAwsConfig } from './aws-config.ts';
import { MOTO_DEFAULT_ACCOUNT_ID, type MotoServer, startMoto } from './moto.ts';
import { LocalServerError } from './ports.ts';

function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function queueNames(endpoint: string): Promise<string[]> {
  const sqs = new SQSClient(testAwsConfig(endpoint));
  const listed = await sqs.send(new ListQueuesCommand({}));
  sqs.destroy();
  return (listed.QueueUrls ?? []).map((url) => url.slice(url.lastIndexOf('/') + 1));
}

describe('startMoto', () => {
  it('starts two servers in parallel on different loopback ports with separate state, and frees them on stop', async () => {
    const [a, b] = await Promise.all([startMoto(), startMoto()]);
    try {
      const sqsA = new SQSClient(testAwsConfig(a.endpoint));
      await sqsA.send(new CreateQueueCommand({ QueueName: 'only-in-a' }));
      sqsA.destroy();

      const queues = { a: await queueNames(a.endpoint), b: await queueNames(b.endpoint) };
      await a.reset();
      const afterReset = await queueNames(a.endpoint);

      expect(a.endpoint).toBe(`http://127.0.0.1:${a.port}`);
      expect(a.port).not.toBe(b.port);
      expect(queues).toEqual({ a: ['only-in-a'], b: [] });
      expect(afterReset).toEqual([]);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    await a.stop();

    expect(await portAcceptsConnections(a.port)).toBe(false);
    expect(await portAcceptsConnections(b.port)).toBe(false);
  });

  it('fails with a clear error when the executable is missing', async () => {
    const attempt = startMoto({ command: 'no-such-moto-server-binary' });

    await expect(attempt).rejects.toBeInstanceOf(LocalServerError);
    await expect(attempt).rejects.toMatchObject({
      code: 'spawn_failed',
      message: expect.stringMatching(/PATH/),
    });
  });

  it("reports the child's output when it exits before it is ready", async () => {
    // python3 rejects moto's flags and exits, printing its usage to stderr.
    const attempt = startMoto({ command: 'python3' });

    await expect(attempt).rejects.toMatchObject({
      code: 'exited_early',
      message: expect.stringMatching(/usage|unknown option|-H/i),
    });
  });

  it('kills moto when the process that started it exits without stopping it', async () => {
    const script = `
      import { startMoto } from ${JSON.stringify(fileURLToPath(new URL('./moto.ts', import.meta.url)))};
      const moto = await startMoto();
      console.log(JSON.stringify({ port: moto.port }));
      process.exit(0);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    await new Promise((resolve) => child.once('exit', resolve));

    const { port } = JSON.parse(output) as { port: number };

    expect(child.exitCode).toBe(0);
    await expect.poll(() => portAcceptsConnections(port), { timeout: 3000 }).toBe(false);
  });

  it('kills moto when the process that started it is killed with SIGKILL (no exit hook runs)', async () => {
    const script = `
      import { startMoto } from ${JSON.stringify(fileURLToPath(new URL('./moto.ts', import.meta.url)))};
      const moto = await startMoto();
      console.log(JSON.stringify({ port: moto.port }));
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    await expect.poll(() => output.includes('\n') || child.exitCode !== null, { timeout: 60_000 }).toBe(true);
    const { port } = JSON.parse(output) as { port: number };

    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    await expect.poll(() => portAcceptsConnections(port), { timeout: 5000 }).toBe(false);
  });

  it('stops a half-started moto when its start is aborted, and rejects with aborted', async () => {
    const controller = new AbortController();
    const attempt = startMoto({ signal: controller.signal }).catch((err: unknown) => err);
    await expect.poll(() => motoChildren().length, { timeout: 60_000 }).toBeGreaterThan(0);

    controller.abort();
    const error = await attempt;

    expect(error).toBeInstanceOf(LocalServerError);
    expect(error).toMatchObject({ code: 'aborted' });
    expect(motoChildren()).toEqual([]);
  });

  it('starts on the preferred port when it is free, and on another when it is taken', async () => {
    const first = await startMoto();
    try {
      const taken = await startMoto({ port: first.port });
      await taken.stop();
      const freed = first.port;
      await first.stop();

      const again = await startMoto({ port: freed });
      await again.stop();

      expect(taken.port).not.toBe(freed);
      expect(again.port).toBe(freed);
    } finally {
      await first.stop();
    }
  });
});

/** moto_server processes this test process started and that are still running (not zombies). */
function motoChildren(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (
          ppid === String(process.pid) &&
          state !== 'Z' &&
          readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('moto_server')
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('moto speaks the AWS services the connector uses', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto?.stop();
  });

  it('STS AssumeRole issues credentials that moto maps to the role account', async () => {
    const sts = new STSClient(testAwsConfig(moto.endpoint));

    const assumed = await sts.send(
      new AssumeRoleCommand({
        RoleArn: 'arn:aws:iam::111122223333:role/VaikoraConnector',
        RoleSessionName: 'moto-test',
        ExternalId: 'ext-123456',
      }),
    );
    const credentials = assumed.Credentials;
    const asRole = new STSClient({
      ...testAwsConfig(moto.endpoint),
      credentials: {
        accessKeyId: credentials?.AccessKeyId ?? '',
        secretAccessKey: credentials?.SecretAccessKey ?? '',
        sessionToken: credentials?.SessionToken ?? '',
      },
    });
    const identity = await asRole.send(new GetCallerIdentityCommand({}));
    const staticIdentity = await sts.send(new GetCallerIdentityCommand({}));

    expect(identity.Account).toBe('111122223333');
    expect(staticIdentity.Account).toBe(MOTO_DEFAULT_ACCOUNT_ID);
  });

  it('Security Hub enables, describes, imports and returns findings', async () => {
    const securityHub = new SecurityHubClient(testAwsConfig(moto.endpoint, 'eu-central-1'));
    const account = MOTO_DEFAULT_ACCOUNT_ID;

    await securityHub.send(new EnableSecurityHubCommand({}));
    const hub = await securityHub.send(new DescribeHubCommand({}));
    const imported = await securityHub.send(
      new BatchImportFindingsCommand({
        Findings: [
          {
            SchemaVersion: '2018-10-08',
            Id: 'vaikora-moto-1',
            ProductArn: `arn:aws:securityhub:eu-central-1:${account}:product/${account}/default`,
            GeneratorId: 'vaikora/tool_call',
            AwsAccountId: account,
            Types: ['Software and Configuration Checks/AI Agent Security'],
            CreatedAt: '2026-01-01T00:00:00Z',
            UpdatedAt: '2026-01-01T00:00:00Z',
            Severity: { Label: 'HIGH' },
            Title: 'Risky tool call',
            Description: 'agent a1',
            Resources: [{ Type: 'Other', Id: 'vaikora-agent/a1' }],
          },
        ],
      }),
    );
    const found = await securityHub.send(new GetFindingsCommand({}));

    expect(hub.HubArn).toBe(`arn:aws:securityhub:eu-central-1:${account}:hub/default`);
    expect(imported).toMatchObject({ FailedCount: 0, SuccessCount: 1 });
    expect(found.Findings?.map((f) => f.Id)).toEqual(['vaikora-moto-1']);
  });

  it('DynamoDB, SQS and KMS answer the calls the worker and secrets make', async () => {
    const config = testAwsConfig(moto.endpoint);
    const dynamo = new DynamoDBClient(config);
    const sqs = new SQSClient(config);
    const kms = new KMSClient(config);

    await dynamo.send(
      new CreateTableCommand({
        TableName: 'leases',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await dynamo.send(new PutItemCommand({ TableName: 'leases', Item: { pk: { S: 'tenant-1' } } }));
    const item = await dynamo.send(
      new GetItemCommand({ TableName: 'leases', Key: { pk: { S: 'tenant-1' } } }),
    );
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: 'due-tenants' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.QueueUrl, MessageBody: 'tenant-1' }));
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl }));
    const key = await kms.send(new CreateKeyCommand({}));
    const dataKey = await kms.send(
      new GenerateDataKeyCommand({ KeyId: key.KeyMetadata?.KeyId, KeySpec: 'AES_256' }),
    );
    const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob }));

    expect(item.Item).toEqual({ pk: { S: 'tenant-1' } });
    expect(received.Messages?.map((m) => m.Body)).toEqual(['tenant-1']);
    expect(decrypted.Plaintext).toEqual(dataKey.Plaintext);
  });

  it('CloudFormation creates the IAM role of a template, which IAM then returns', async () => {
    const config = testAwsConfig(moto.endpoint);
    const cloudFormation = new CloudFormationClient(config);
    const iam = new IAMClient(config);
    const template = {
      Resources: {
        Role: {
          Type: 'AWS::IAM::Role',
          Properties: {
            RoleName: 'VaikoraSecurityHubImporter',
            AssumeRolePolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Principal: { AWS: `arn:aws:iam::${MOTO_DEFAULT_ACCOUNT_ID}:root` },
                  Action: 'sts:AssumeRole',
                  Condition: { StringEquals: { 'sts:ExternalId': 'ext-123456' } },
                },
              ],
            },
          },
        },
      },
      Outputs: { RoleArn: { Value: { 'Fn::GetAtt': ['Role', 'Arn'] } } },
    };

    await cloudFormation.send(
      new CreateStackCommand({
        StackName: 'vaikora-role',
        TemplateBody: JSON.stringify(template),
        Capabilities: ['CAPABILITY_NAMED_IAM'],
      }),
    );
    const stacks = await cloudFormation.send(new DescribeStacksCommand({ StackName: 'vaikora-role' }));
    const role = await iam.send(new GetRoleCommand({ RoleName: 'VaikoraSecurityHubImporter' }));

    expect(stacks.Stacks?.[0]?.StackStatus).toBe('CREATE_COMPLETE');
    expect(stacks.Stacks?.[0]?.Outputs?.[0]?.OutputValue).toBe(role.Role?.Arn);
  });
});
