import { describeTenantLifecycle } from './testing/flow-suite.ts';

describeTenantLifecycle('postgres');
