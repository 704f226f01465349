import { Hono } from 'hono';
import type { AppEnv } from '../../deps.ts';
import { errorBody } from '../../errors.ts';
import { loadViewerPackageFiles, type StaticAsset, staticAsset } from './viewer-assets.ts';

/** An operation as the docs page lists it. */
interface DocOperation {
  method: string;
  path: string;
  summary: string;
  access: string;
}

type OpenApiDocument = { info?: { title?: string; version?: string }; paths?: Record<string, unknown> };

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** The operations of an OpenAPI document, in path order. */
function operationsOf(document: OpenApiDocument): DocOperation[] {
  const out: DocOperation[] = [];
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(item as Record<string, unknown>)) {
      if (typeof operation !== 'object' || operation === null) continue;
      const op = operation as { summary?: unknown; 'x-vsh-access'?: unknown };
      out.push({
        method: method.toUpperCase(),
        path,
        summary: typeof op.summary === 'string' ? op.summary : '',
        access: typeof op['x-vsh-access'] === 'string' ? op['x-vsh-access'] : 'public',
      });
    }
  }
  return out;
}

// The viewer's start-up, served as a file so that the page's CSP can forbid inline scripts. The
// validator is off: Swagger UI would otherwise send the document to validator.swagger.io.
const INIT_SCRIPT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: false,
    displayOperationId: true,
    defaultModelsExpandDepth: 0,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
`;

const PAGE_STYLES = `body{margin:0;background:#fff;color:#1b1f24;font:15px/1.5 system-ui,sans-serif}
.intro{max-width:1460px;margin:0 auto;padding:1rem 20px 0}
.intro p{margin:.2rem 0}
.fallback{max-width:70rem;margin:1rem auto;padding:0 1rem}
.fallback table{border-collapse:collapse;width:100%}
.fallback th,.fallback td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #d8dee4;vertical-align:top}
code{font:13px ui-monospace,monospace}.m{font-weight:600}.m-get{color:#0b6e2f}.m-post{color:#0550ae}
.m-put,.m-patch{color:#8a4600}.m-delete{color:#a40e26}
`;

/** The static files of /docs: Swagger UI's bundle and stylesheet, and this page's own script and styles. */
export interface DocsAssets {
  bundle: StaticAsset;
  css: StaticAsset;
  init: StaticAsset;
  page: StaticAsset;
  byName: ReadonlyMap<string, StaticAsset>;
}

/** Loads the viewer's files (from the package, or from beside the Lambda bundle) and this page's own. */
function loadDocsAssets(packageFiles: StaticAsset[] = loadViewerPackageFiles()): DocsAssets {
  const find = (name: string) => {
    const asset = packageFiles.find((file) => file.name === name);
    if (asset === undefined) throw new Error(`the API reference viewer file ${name} is missing`);
    return asset;
  };
  const init = staticAsset('docs-init.js', 'text/javascript; charset=utf-8', INIT_SCRIPT);
  const page = staticAsset('docs.css', 'text/css; charset=utf-8', PAGE_STYLES);
  const all = [...packageFiles, init, page];
  return {
    bundle: find('swagger-ui-bundle.js'),
    css: find('swagger-ui.css'),
    init,
    page,
    byName: new Map(all.map((asset) => [asset.name, asset])),
  };
}

/** The URL of an asset: its content hash in the path, so it can be cached for good. */
function assetUrl(asset: StaticAsset): string {
  return `/docs/assets/${asset.hash}/${asset.name}`;
}

/**
 * The CSP of /docs: scripts and styles from this origin only (no inline code, no eval), calls (the
 * viewer's "Try it out") to this origin only, nothing framed, no forms elsewhere.
 */
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The API reference: Swagger UI served from this API (no CDN) over the OpenAPI document, with the
 * plain list of operations inside <noscript> for readers without JavaScript.
 */
function renderDocsPage(document: OpenApiDocument, assets: DocsAssets): string {
  const title = escapeHtml(document.info?.title ?? 'API');
  const rows = operationsOf(document)
    .map(
      (op) =>
        `<tr><td><code class="m m-${escapeHtml(op.method.toLowerCase())}">${escapeHtml(op.method)}</code></td><td><code>${escapeHtml(op.path)}</code></td><td>${escapeHtml(op.summary)}</td><td>${escapeHtml(op.access)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} reference</title>
<link rel="stylesheet" href="${assetUrl(assets.css)}">
<link rel="stylesheet" href="${assetUrl(assets.page)}">
</head>
<body>
<div class="intro">
<p>Authenticate with <code>Authorization: Bearer &lt;key&gt;</code> (the <strong>Authorize</strong> button below); every error has the body
<code>{"error":{"code","message","requestId"}}</code>. Machine-readable document: <a href="/openapi.json">/openapi.json</a>. <a href="/">Home</a></p>
</div>
<div id="swagger-ui"></div>
<noscript>
<div class="fallback">
<h1>${title} <small>${escapeHtml(document.info?.version ?? '')}</small></h1>
<table>
<thead><tr><th scope="col">Method</th><th scope="col">Path</th><th scope="col">Summary</th><th scope="col">Access</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</div>
</noscript>
<script src="${assetUrl(assets.bundle)}"></script>
<script src="${assetUrl(assets.init)}"></script>
</body>
</html>
`;
}

/**
 * GET /docs and its assets. The document comes from the app once every route is registered; page and
 * files are built on first use, so an app that never serves /docs never reads the viewer's 2 MB.
 */
export function docsApp(documentOf: () => OpenApiDocument, loadAssets: () => DocsAssets = loadDocsAssets) {
  let assets: DocsAssets | undefined;
  let pageHtml: string | undefined;
  const docs = new Hono<AppEnv>();

  docs.get('/docs', (c) => {
    assets ??= loadAssets();
    pageHtml ??= renderDocsPage(documentOf(), assets);
    c.header('Content-Security-Policy', DOCS_CSP);
    c.header('Cache-Control', 'no-cache');
    return c.html(pageHtml);
  });

  docs.get('/docs/assets/:hash/:name', (c) => {
    assets ??= loadAssets();
    const asset = assets.byName.get(c.req.param('name'));
    // Another hash is another version: answering it with this one would be cached under the wrong URL.
    if (asset === undefined || asset.hash !== c.req.param('hash'))
      return c.json(errorBody('NOT_FOUND', 'no such asset', c.get('requestId')), 404);
    c.header('Content-Type', asset.contentType);
    c.header('Cache-Control', 'public, max-age=31536000, immutable');
    return c.body(asset.body, 200);
  });

  return docs;
}
