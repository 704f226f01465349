import { describeTenantLifecycle } from './testing/flow-suite.ts';

// The embedded default: the same migrations and every query of the lifecycle, on PGlite.
describeTenantLifecycle('pglite');
