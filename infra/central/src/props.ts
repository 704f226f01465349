/** The central stack's properties (what an operator sets), apart from the stack so builders can share them. */
import type { Duration, StackProps } from 'aws-cdk-lib';
import type { IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import type { Runtime } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ProductAlarmThresholds } from './monitoring.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface CentralStackEntries {
  /** The SQS consumer (`handler` answers with partial batch responses). */
  readonly worker: string;
  /** Run every minute by EventBridge Scheduler; enqueues due tenants. */
  readonly dispatcher: string;
  /** The Hono control plane through `hono/aws-lambda`. */
  readonly api: string;
}

export interface CentralStackProps extends StackProps {
  /** Handler modules, each exporting `handler`; default the apps' Lambda entries (DEFAULT_ENTRIES). */
  readonly entries?: Partial<CentralStackEntries> | undefined;
  /** The worker role's fixed name, which customers' trust policies name; default `vsh-connector-worker`. */
  readonly workerRoleName?: string | undefined;
  /**
   * Data443's Security Hub partner product (`company/product`) when this stack's account is the one AWS
   * allow-listed for it (ADR 0121): turns partner-product mode on. The worker role may then import
   * under that product only; unset: the mode is not offered and the worker holds no Security Hub permission.
   */
  readonly partnerProductName?: string | undefined;
  /** Where the rendered customer template is published (https, S3); default a stack parameter. */
  readonly customerTemplateUrl?: string | undefined;
  /** Vaikora hosts the API accepts in tenants' settings; default `api.vaikora.com`. */
  readonly vaikoraAllowedHosts?: readonly string[] | undefined;
  /** Complete ARN of an existing secret {host,port,username,password,dbname}; default a placeholder secret. */
  readonly databaseSecretArn?: string | undefined;
  /** Complete ARN of an existing secret holding the operator API key; default a generated secret. */
  readonly operatorKeySecretArn?: string | undefined;
  /** Subscribed to the alarm topic when set (the address must confirm the subscription). */
  readonly alarmEmail?: string | undefined;
  /** Thresholds of the lag, failed-run and rejected-record alarms (docs/adr/0072). */
  readonly productAlarms?: Partial<ProductAlarmThresholds> | undefined;
  /** Runs the functions in this VPC's private subnets (for a database without a public endpoint). */
  readonly vpc?: IVpc | undefined;
  /** Looked up at synth (needs an explicit account and region) when `vpc` is not given. */
  readonly vpcId?: string | undefined;
  /** Default: private subnets with egress (the functions call STS, Security Hub and Vaikora). */
  readonly vpcSubnets?: SubnetSelection | undefined;
  /** Most worker instances at once; also the SQS event source's maximum concurrency. Default 10. */
  readonly workerReservedConcurrency?: number | undefined;
  /** Default 5 minutes; the queue's visibility timeout is six times this. */
  readonly workerTimeout?: Duration | undefined;
  /** Tenant messages per worker invocation; default 5. */
  readonly workerBatchSize?: number | undefined;
  /**
   * Whether the worker writes cursors to the tenant's lease item (ADR 0126); default true. Deploy
   * `false` first when upgrading a stack whose worker predates ADR 0126, then `true` once it runs.
   */
  readonly workerInlineCursors?: boolean | undefined;
  /** HTTP API stage throttling; default 50 requests/s, bursts of 100. */
  readonly apiThrottle?: { readonly rateLimit: number; readonly burstLimit: number } | undefined;
  /** Default three months. */
  readonly logRetention?: RetentionDays | undefined;
  /** LOG_LEVEL for the apps; default `info`. */
  readonly logLevel?: LogLevel | undefined;
  /** Default Node.js 24 (see docs/adr/0070). */
  readonly runtime?: Runtime | undefined;
}
