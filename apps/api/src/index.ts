export { createApp, OPENAPI_INFO } from './app.ts';
export type {
  ApiConfig,
  ApiDeps,
  AppEnv,
  LocalAwsPort,
  Principal,
  VaikoraClientFactory,
  VaikoraClientInput,
  VaikoraVerifier,
} from './deps.ts';
export { type ApiEnv, EnvError, loadEnv, parseEnv } from './env.ts';
export { API_ERROR_CODES, ApiError, type ApiErrorCode, STATUS_OF } from './errors.ts';
export { createLogger } from './logger.ts';
export {
  type ApiServer,
  apiConfigOf,
  type StartApiServerOptions,
  startApiServer,
  vaikoraClientFactory,
} from './server.ts';
export { type AwsVerifierOptions, createAwsDestinationVerifier } from './verify/aws-verifier.ts';
export {
  CHECK_CODES,
  CHECK_NAMES,
  type CheckCode,
  type CheckResult,
  type DestinationVerifier,
  type VerificationResult,
  type VerifyInput,
} from './verify/checks.ts';
