// Serves the web dashboard (node/dashboard, a Vite build in node/dashboard/dist) at `/` (docs/dashboard.md,
// ADR 0100). The node serves only built files: no build step at run time, no outside resource.
//  - /assets/*: content-hashed files from Vite, cached for a year as `immutable` (a new build has new
//    names, so a cached file is never stale).
//  - the client routes (/, /signin, /clinician, /patient, /operator and below): index.html with
//    `no-cache`, so a browser always revalidates and picks up a new build at once.
//  - index.html carries the operator's settings for the page (dashboard-config.ts) as <meta> tags.
//  - every dashboard answer carries a Content-Security-Policy that allows this origin only: the page
//    holds a private key in memory, so no script, style or connection may come from anywhere else.
// When the build is missing the same routes answer a plain 503 page that says how to build it,
// instead of a confusing 404 from the API's problem handler.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { checkIdleSignOutMs, configMetaTags, DEFAULT_IDLE_SIGN_OUT_MS } from './dashboard-config.ts';

export const DASHBOARD_DIST = fileURLToPath(new URL('../../dashboard/dist', import.meta.url));

/** Client-side routes of the single-page app: each answers index.html. */
export const CLIENT_ROUTES = ['/', '/signin', '/clinician', '/patient', '/operator'] as const;

export const DASHBOARD_CSP = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  // No 'unsafe-inline': the page's CSS is one bundled file, and uPlot positions its cursor and legend
  // through the CSSOM (element.style), which CSP does not govern. Inline styles would let injected
  // markup restyle a clinical screen (hide an alert, overlay a value).
  "style-src 'self'",
  "script-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

export const MISSING_BUILD_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil dashboard not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>The Vigil dashboard is not built</h1>
<p>This node serves the dashboard from <code>node/dashboard/dist</code>, which does not exist yet.
Build it once with</p><pre>npm run build:dashboard</pre>
<p>(<code>npm start</code> builds it for you). The API itself is up: see <a href="/docs">/docs</a>.</p>
</body></html>
`;

export interface DashboardOptions {
  /** Directory of the built dashboard (default node/dashboard/dist). */
  dist?: string;
  /**
   * A signed-in tab with no pointer, keyboard or touch activity for this long is signed out, after a
   * warning (ADR 0127). Default 15 min; 2 s to 12 h.
   */
  idleSignOutMs?: number;
}

/** Puts the page configuration at the end of <head> (Vite's index.html always has one). */
export function withConfig(html: string, meta: string): string {
  const at = html.indexOf('</head>');
  return at < 0 ? `${meta}\n${html}` : `${html.slice(0, at)}${meta}\n${html.slice(at)}`;
}

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', DASHBOARD_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

export async function registerDashboard(app: FastifyInstance, options: DashboardOptions = {}): Promise<void> {
  const dist = options.dist ?? DASHBOARD_DIST;
  const index = join(dist, 'index.html');
  const assets = join(dist, 'assets');
  // Checked at start: a node must not serve a page whose automatic logoff is not what was asked for.
  const meta = configMetaTags({
    idleSignOutMs: checkIdleSignOutMs(options.idleSignOutMs ?? DEFAULT_IDLE_SIGN_OUT_MS),
  });

  const sendIndex = async (reply: FastifyReply) => {
    secure(reply);
    // Read per request (a few KiB): a rebuild while the node runs is served at once.
    const html = await readFile(index, 'utf8').catch(() => undefined);
    if (html === undefined) {
      return reply
        .code(503)
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(MISSING_BUILD_PAGE);
    }
    return reply
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8')
      .send(withConfig(html, meta));
  };

  for (const route of CLIENT_ROUTES) {
    app.get(route, { schema: { hide: true } }, (_req, reply) => sendIndex(reply));
    if (route !== '/') app.get(`${route}/*`, { schema: { hide: true } }, (_req, reply) => sendIndex(reply));
  }

  // Registered even when the build is missing (fastify-static only warns): a build made while the node
  // runs is then served without a restart.
  await app.register(fastifyStatic, {
    root: assets,
    prefix: '/assets/',
    // Vite names every asset by its content hash: a name never changes meaning.
    immutable: true,
    maxAge: '365d',
    index: false,
    wildcard: true,
    setHeaders: (res) => {
      res.setHeader('content-security-policy', DASHBOARD_CSP);
      res.setHeader('x-content-type-options', 'nosniff');
    },
  });
}
