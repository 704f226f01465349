export { TEST_CREDENTIALS, type TestAwsConfig, testAwsConfig } from './aws-config.ts';
export { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.ts';
export { type DynamoDbLocal, type DynamoDbLocalOptions, startDynamoDbLocal } from './dynamodb-local.ts';
export {
  type AsffFinding,
  type FaultProxy,
  FaultProxyError,
  type FaultProxyErrorCode,
  type FaultProxyOptions,
  type FaultProxyStats,
  type FaultRules,
  type OperationStats,
  SECURITY_HUB_RATE_LIMITS,
  type SecurityHubImportStats,
  startFaultProxy,
} from './fault-proxy.ts';
export { type ListeningSocket, listeningOn, parseProcNetTcp, portHolder } from './listening.ts';
export { MOTO_DEFAULT_ACCOUNT_ID, type MotoOptions, type MotoServer, startMoto } from './moto.ts';
export { freePort, isPortFree, LocalServerError, type LocalServerErrorCode } from './ports.ts';
export {
  startTcpFaultProxy,
  type TcpFaultProxy,
  type TcpFaultProxyOptions,
  type TcpFaultProxyStats,
  type TcpFaultRules,
  tcpFaultRulesSchema,
} from './tcp-fault-proxy.ts';
export * from './vaikora-sim.ts';
