export { addNagChecks } from './app.ts';
export {
  CentralStack,
  type CentralStackEntries,
  type CentralStackProps,
  type LogLevel,
} from './central-stack.ts';
export {
  CUSTOMER_ROLE_ACTIONS,
  customerRoleArnPattern,
  DEFAULT_ENTRIES,
  DEFAULT_STACK_NAME,
  DEFAULT_VAIKORA_HOSTS,
  REPO_ROOT,
  WORKER_TABLE_ACTIONS,
} from './constants.ts';
export { type CentralAppConfig, configFromContext } from './context.ts';
export { CentralStackError, type CentralStackErrorCode } from './errors.ts';
export {
  ConnectorMonitoring,
  type ConnectorMonitoringProps,
  DEFAULT_PRODUCT_ALARM_THRESHOLDS,
  type ProductAlarms,
  type ProductAlarmThresholds,
  resolveProductAlarmThresholds,
} from './monitoring.ts';
