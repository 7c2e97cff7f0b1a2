// Serving the dashboard: built files with the right cache headers and CSP, index.html for client routes,
// a clear 503 page when the build is missing, and no dashboard route in the API's OpenAPI document.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import t from 'tap';
import { DASHBOARD_CSP, MISSING_BUILD_PAGE, registerDashboard } from './dashboard.ts';

async function appWith(dist: string) {
  const app = Fastify({ logger: false });
  await registerDashboard(app, { dist });
  t.teardown(() => app.close());
  return app;
}

t.test('a built dashboard: index.html for client routes (no-cache), hashed assets (immutable)', async (t) => {
  const dist = mkdtempSync(join(tmpdir(), 'vigil-dash-'));
  t.teardown(() => rmSync(dist, { recursive: true, force: true }));
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Vigil</title><div id="app"></div>');
  writeFileSync(join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
  const app = await appWith(dist);
  for (const url of ['/', '/signin', '/clinician', '/patient', '/operator', '/patient/audit']) {
    const r = await app.inject(url);
    t.equal(r.statusCode, 200, url);
    t.match(r.headers['content-type'], /^text\/html/, url);
    t.equal(r.headers['cache-control'], 'no-cache', url);
    t.equal(r.headers['content-security-policy'], DASHBOARD_CSP, url);
    t.match(r.body, /<div id="app">/, url);
  }
  const js = await app.inject('/assets/index-abc123.js');
  t.equal(js.statusCode, 200);
  t.match(js.headers['content-type'], /javascript/);
  t.match(js.headers['cache-control'], /max-age=31536000/);
  t.match(js.headers['cache-control'], /immutable/);
  t.equal((await app.inject('/assets/missing.js')).statusCode, 404);
  // Client routes are a fixed list: anything else stays the API's (here fastify's default) 404.
  t.equal((await app.inject('/v1/nothing')).statusCode, 404);
});

t.test('the CSP allows nothing inline and nothing from another origin', async (t) => {
  const directives = DASHBOARD_CSP.split(';').map((d) => d.trim());
  t.notMatch(DASHBOARD_CSP, /unsafe-inline|unsafe-eval|\*/, 'no inline script or style, no wildcard');
  for (const d of ['default-src', 'script-src', 'style-src', 'connect-src']) {
    t.ok(directives.includes(`${d} 'self'`), `${d} 'self'`);
  }
  // The 503 page is served under the same policy: it must not need an inline style either.
  t.notMatch(MISSING_BUILD_PAGE, /style=|<style|<script/);
});

t.test('no build: a 503 page that says how to build it', async (t) => {
  const app = await appWith(join(tmpdir(), 'vigil-dash-does-not-exist'));
  const r = await app.inject('/clinician');
  t.equal(r.statusCode, 503);
  t.match(r.headers['content-type'], /^text\/html/);
  t.equal(r.headers['cache-control'], 'no-store');
  t.match(r.body, /npm run build:dashboard/);
});

t.test('dashboard routes stay out of the OpenAPI document', async (t) => {
  const { startTestNode } = await import('./testing/node.ts');
  const node = await startTestNode();
  t.teardown(() => node.close());
  const doc = (await node.app.inject('/docs/openapi.json')).json() as { paths: Record<string, unknown> };
  const paths = Object.keys(doc.paths);
  t.notOk(paths.includes('/'), 'no /');
  t.notOk(
    paths.some((p) => p.startsWith('/assets') || p.startsWith('/clinician')),
    'no dashboard paths',
  );
  t.ok(paths.includes('/v1/status'), 'the API is still documented');
});

t.test(
  "index.html carries the operator's idle sign-out for the page; a wrong one stops the node",
  async (t) => {
    const dist = mkdtempSync(join(tmpdir(), 'vigil-dash-'));
    t.teardown(() => rmSync(dist, { recursive: true, force: true }));
    writeFileSync(
      join(dist, 'index.html'),
      '<!doctype html><html><head><title>Vigil</title></head><body></body></html>',
    );
    const meta = (body: string) =>
      /<meta name="vigil-idle-sign-out-ms" content="(\d+)">\n<\/head>/.exec(body)?.[1];
    t.equal(meta((await (await appWith(dist)).inject('/clinician')).body), '900000', 'default: 15 min');
    const app = Fastify({ logger: false });
    await registerDashboard(app, { dist, idleSignOutMs: 5 * 60_000 });
    t.teardown(() => app.close());
    t.equal(meta((await app.inject('/')).body), '300000');
    for (const idleSignOutMs of [0, 1_999, 12 * 3_600_000 + 1, 1.5e6 + 0.5]) {
      await t.rejects(registerDashboard(Fastify({ logger: false }), { dist, idleSignOutMs }), {
        code: 'DASHBOARD_IDLE_SIGN_OUT',
      });
    }
  },
);
