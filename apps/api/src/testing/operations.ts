import { createApp, OPENAPI_INFO } from '../app.ts';
import { ACCESS_EXTENSION } from '../openapi.ts';
import { testApiDeps } from './harness.ts';

/** One documented operation, as the authorization and fuzz tests walk them. */
export interface DocumentedOperation {
  method: string;
  /** OpenAPI path, e.g. `/v1/tenants/{tenantId}`. */
  path: string;
  access: string | undefined;
  /** Names of the path parameters, in order. */
  params: string[];
  /** The request body example, when the operation takes a body. */
  exampleBody: unknown;
  hasBody: boolean;
}

type Operation = {
  [ACCESS_EXTENSION]?: string;
  requestBody?: { content?: Record<string, { schema?: { example?: unknown } }> };
};

/**
 * The app with test dependencies and no database: for what never reaches one (route registration, the
 * OpenAPI document, static pages, calls refused before a handler).
 */
export function databaselessApp(): ReturnType<typeof createApp> {
  return createApp(testApiDeps());
}

/**
 * The OpenAPI document of the app, generated without a database (documents never query it), so tests
 * can list the operations while they are being collected.
 */
export function openApiDocument(): { paths: Record<string, Record<string, Operation>> } {
  const app = databaselessApp();
  return app.getOpenAPI31Document(OPENAPI_INFO) as unknown as {
    paths: Record<string, Record<string, Operation>>;
  };
}

/** Every operation of the document under /v1: the routes a key can reach. */
export function documentedOperations(): DocumentedOperation[] {
  const out: DocumentedOperation[] = [];
  for (const [path, item] of Object.entries(openApiDocument().paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const [method, operation] of Object.entries(item)) {
      const body = operation.requestBody?.content?.['application/json'];
      out.push({
        method: method.toUpperCase(),
        path,
        access: operation[ACCESS_EXTENSION],
        params: [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1] ?? ''),
        exampleBody: body?.schema?.example,
        hasBody: body !== undefined,
      });
    }
  }
  return out;
}

/** The concrete path of an operation with its parameters filled in. */
export function fillPath(path: string, values: Record<string, string>): string {
  return path.replace(/\{([^}]+)\}/g, (_whole, name: string) => {
    const value = values[name];
    if (value === undefined)
      throw new Error(`no value for path parameter ${name}: add one to the test fixtures`);
    return encodeURIComponent(value);
  });
}
