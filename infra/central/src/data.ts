/**
 * The connector's state: the DynamoDB state table, the work queue and its dead-letter queue, the
 * tenant-secrets key, and the database and operator secrets (given by ARN, or created here).
 */
import { Duration, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';

export interface DataProps {
  /** The worker's timeout: the work queue's visibility timeout is six times it. */
  readonly workerTimeout: Duration;
  readonly databaseSecretArn?: string | undefined;
  readonly operatorKeySecretArn?: string | undefined;
}

export interface Data {
  readonly stateTable: Table;
  readonly deadLetterQueue: Queue;
  readonly workQueue: Queue;
  readonly tenantSecretsKey: Key;
  readonly databaseSecret: ISecret;
  readonly operatorKeySecret: ISecret;
}

/** Creates the state resources directly in `stack` (their construct ids are their logical ids' roots). */
export function buildData(stack: Stack, props: DataProps): Data {
  // AWS-owned encryption: the table holds leases and cursors, no secret; a customer managed key
  // would have to be granted (Encrypt and GenerateDataKey too) to every reader and writer.
  const stateTable = new Table(stack, 'StateTable', {
    partitionKey: { name: 'pk', type: AttributeType.STRING },
    sortKey: { name: 'sk', type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    timeToLiveAttribute: 'expiresAt',
    encryption: TableEncryption.DEFAULT,
    deletionProtection: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });

  // SQS-managed encryption: messages carry a tenant id and a timestamp. Under the tenant-secrets
  // key the dispatcher would need kms:GenerateDataKey on the key that guards Vaikora API keys.
  const deadLetterQueue = new Queue(stack, 'WorkDeadLetterQueue', {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const workQueue = new Queue(stack, 'WorkQueue', {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    // Six times the worker's timeout, as Lambda advises for SQS event sources: a message is not
    // handed to a second worker while the first may still be working on it.
    visibilityTimeout: Duration.seconds(props.workerTimeout.toSeconds() * 6),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: 5 },
  });

  // Losing this key loses every tenant's Vaikora key: retained, and never scheduled for deletion
  // by a stack deletion.
  const tenantSecretsKey = new Key(stack, 'TenantSecretsKey', {
    description: `${stack.stackName}: envelope encryption of tenants' Vaikora API keys`,
    enableKeyRotation: true,
    alias: `alias/${stack.stackName}/tenant-secrets`,
    removalPolicy: RemovalPolicy.RETAIN,
  });

  const databaseSecret =
    props.databaseSecretArn === undefined
      ? placeholderDatabaseSecret(stack)
      : Secret.fromSecretCompleteArn(stack, 'DatabaseSecret', props.databaseSecretArn);
  const operatorKeySecret =
    props.operatorKeySecretArn === undefined
      ? generatedOperatorKeySecret(stack)
      : Secret.fromSecretCompleteArn(stack, 'OperatorKeySecret', props.operatorKeySecretArn);

  return { stateTable, deadLetterQueue, workQueue, tenantSecretsKey, databaseSecret, operatorKeySecret };
}

function placeholderDatabaseSecret(stack: Stack): Secret {
  // The password is generated; host (and whatever else differs) is filled in by Data443 before
  // the functions are used. No value of it ever appears in the template.
  return new Secret(stack, 'DatabaseSecret', {
    description: `${stack.stackName}: PostgreSQL connection {host,port,username,password,dbname}; fill in host`,
    generateSecretString: {
      secretStringTemplate: JSON.stringify({ host: '', port: 5432, username: 'vsh', dbname: 'vsh' }),
      generateStringKey: 'password',
      excludePunctuation: true,
      passwordLength: 40,
    },
    // It may hold the only copy of the database password.
    removalPolicy: RemovalPolicy.RETAIN,
  });
}

function generatedOperatorKeySecret(stack: Stack): Secret {
  return new Secret(stack, 'OperatorKeySecret', {
    description: `${stack.stackName}: the operator API key of the control plane`,
    generateSecretString: { excludePunctuation: true, passwordLength: 64 },
    removalPolicy: RemovalPolicy.RETAIN,
  });
}
