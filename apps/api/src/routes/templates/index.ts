import { createHash } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import { CUSTOMER_TEMPLATE_YAML } from '@vsh/role-contract';
import type { ApiDeps } from '../../deps.ts';
import { createRouter } from '../../openapi.ts';
import { TEMPLATE_FILE } from '../destinations/shared.ts';

/** The ETag of the served template: a strong tag of its SHA-256, so any change of the bytes changes it. */
const TEMPLATE_ETAG = `"${createHash('sha256').update(CUSTOMER_TEMPLATE_YAML, 'utf8').digest('base64url')}"`;

// Short enough that a template fix reaches customers within minutes; revalidation is a cheap 304.
const CACHE_CONTROL = 'public, max-age=300, must-revalidate';

/** GET /templates/vaikora-securityhub-role.yaml: public, no key. */
const route = createRoute({
  method: 'get',
  path: `/templates/${TEMPLATE_FILE}`,
  operationId: 'getCustomerRoleTemplate',
  tags: ['onboarding'],
  summary: 'The customer-role CloudFormation template (public, no API key)',
  security: [],
  request: {
    headers: z.object({ 'if-none-match': z.string().max(1024).optional() }),
  },
  responses: {
    200: {
      description: 'The template, byte for byte as in infra/customer-role/template.yaml.',
      content: { 'text/yaml': { schema: z.string().openapi({ example: 'AWSTemplateFormatVersion: ...' }) } },
    },
    304: { description: 'The copy the client holds (If-None-Match) is current.' },
  },
});

/** Serves the customer-role template with an ETag and cache headers. */
export function templatesApp(_deps: ApiDeps) {
  return createRouter().openapi(route, (c) => {
    c.header('ETag', TEMPLATE_ETAG);
    c.header('Cache-Control', CACHE_CONTROL);
    const ifNoneMatch = c.req.valid('header')['if-none-match'];
    if (ifNoneMatch?.split(',').some((tag) => tag.trim() === TEMPLATE_ETAG || tag.trim() === '*')) {
      return c.body(null, 304);
    }
    c.header('Content-Disposition', `attachment; filename="${TEMPLATE_FILE}"`);
    return c.body(CUSTOMER_TEMPLATE_YAML, 200, { 'Content-Type': 'text/yaml; charset=utf-8' });
  });
}
