/** An operation as the docs page lists it. */
export interface DocOperation {
  method: string;
  path: string;
  summary: string;
  access: string;
}

type OpenApiDocument = { info?: { title?: string; version?: string }; paths?: Record<string, unknown> };

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** The operations of an OpenAPI document, in path order. */
export function operationsOf(document: OpenApiDocument): DocOperation[] {
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

/**
 * A self-contained HTML page listing every operation of the OpenAPI document, with a link to the JSON.
 * Server-rendered without scripts or a CDN (the reference UIs load theirs from one), so it works offline.
 */
export function renderDocsPage(document: OpenApiDocument): string {
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
<title>${title} reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1b1f24}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #d8dee4;vertical-align:top}
code{font:13px ui-monospace,monospace}.m{font-weight:600}.m-get{color:#0b6e2f}.m-post{color:#0550ae}.m-put,.m-patch{color:#8a4600}.m-delete{color:#a40e26}
</style>
</head>
<body>
<h1>${title} <small>${escapeHtml(document.info?.version ?? '')}</small></h1>
<p>Authenticate with <code>Authorization: Bearer &lt;key&gt;</code>. Every error has the body
<code>{"error":{"code","message","requestId"}}</code>. Machine-readable document: <a href="/openapi.json">/openapi.json</a>.</p>
<table>
<thead><tr><th scope="col">Method</th><th scope="col">Path</th><th scope="col">Summary</th><th scope="col">Access</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</body>
</html>
`;
}
