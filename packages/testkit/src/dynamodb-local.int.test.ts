import { createConnection } from 'node:net';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { testAwsConfig } from './aws-config.ts';
import { startDynamoDbLocal } from './dynamodb-local.ts';
import { listeningOn } from './listening.ts';

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

describe('startDynamoDbLocal', () => {
  it('listens on the loopback interface only, never on all interfaces', async () => {
    const local = await startDynamoDbLocal();
    try {
      const addresses = listeningOn(local.port).map((s) => s.address);

      expect(addresses.length).toBeGreaterThan(0);
      for (const address of addresses) expect(['127.0.0.1', '::ffff:127.0.0.1']).toContain(address);
    } finally {
      await local.stop();
    }
  });

  it('serves tables in memory, returns the old item on a failed condition, and frees the port on stop', async () => {
    const local = await startDynamoDbLocal();
    const dynamo = new DynamoDBClient(testAwsConfig(local.endpoint));
    try {
      await dynamo.send(
        new CreateTableCommand({
          TableName: 'cursors',
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      await dynamo.send(
        new PutItemCommand({ TableName: 'cursors', Item: { pk: { S: 'stream-1' }, epoch: { N: '3' } } }),
      );

      const stale = dynamo.send(
        new PutItemCommand({
          TableName: 'cursors',
          Item: { pk: { S: 'stream-1' }, epoch: { N: '2' } },
          ConditionExpression: 'attribute_not_exists(pk) OR epoch < :epoch',
          ExpressionAttributeValues: { ':epoch': { N: '2' } },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );

      const error = await stale.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConditionalCheckFailedException);
      expect((error as ConditionalCheckFailedException).Item).toEqual({
        pk: { S: 'stream-1' },
        epoch: { N: '3' },
      });
    } finally {
      dynamo.destroy();
      await local.stop();
    }
    await local.stop();

    expect(local.endpoint).toBe(`http://127.0.0.1:${local.port}`);
    expect(await portAcceptsConnections(local.port)).toBe(false);
  });
});
