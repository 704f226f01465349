export { LocalStackError, type LocalStackErrorCode } from './errors.ts';
export {
  type AnyLocalStack,
  DEMO_ACCOUNT_ID,
  DEMO_REGION,
  type DemoTenant,
  LOCAL_DATA443_ACCOUNT_ID,
  type LocalStack,
  type LocalStackOptions,
  startLocalStack,
} from './stack.ts';
export { type LocalState, localStateFile, readLocalState, saveState } from './state.ts';
