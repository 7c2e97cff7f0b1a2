// Builds the dashboard with Vite when its build is missing or older than its sources. Used by
// `npm run build:dashboard` (always builds), `npm start`'s prestart (`--if-stale`) and the browser test
// (so `npm test` on a fresh clone works without a separate build step).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DASHBOARD_DIR = fileURLToPath(new URL('.', import.meta.url));
export const DIST_INDEX = join(DASHBOARD_DIR, 'dist', 'index.html');

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

/** Whether dist is missing or older than any source of the bundle (its own and the shared modules). */
export function dashboardIsStale(): boolean {
  if (!existsSync(DIST_INDEX)) return true;
  const built = statSync(DIST_INDEX).mtimeMs;
  const sources = [
    join(DASHBOARD_DIR, 'src'),
    join(DASHBOARD_DIR, 'index.html'),
    join(DASHBOARD_DIR, 'vite.config.ts'),
    // Bundled from the rest of the repository: the wire format, vitals, proofs, request signing and the
    // page configuration's names and bounds.
    fileURLToPath(new URL('../../consensus/src', import.meta.url)),
    fileURLToPath(new URL('../src/api/signed-request-client.ts', import.meta.url)),
    fileURLToPath(new URL('../src/api/dashboard-config.ts', import.meta.url)),
    fileURLToPath(new URL('../../sensor-client/src/sdk', import.meta.url)),
  ];
  return sources.some((s) => existsSync(s) && newestMtime(s) > built);
}

export async function buildDashboard(): Promise<void> {
  const { build } = await import('vite');
  await build({ configFile: join(DASHBOARD_DIR, 'vite.config.ts'), logLevel: 'warn' });
}

export async function ensureDashboardBuilt(): Promise<boolean> {
  if (!dashboardIsStale()) return false;
  await buildDashboard();
  return true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const ifStale = process.argv.includes('--if-stale');
  const run = ifStale ? ensureDashboardBuilt() : buildDashboard().then(() => true);
  run.then(
    (built) => {
      console.log(
        built ? `Dashboard built in ${join(DASHBOARD_DIR, 'dist')}` : 'Dashboard build is up to date',
      );
    },
    (e: Error) => {
      console.error(`build:dashboard: ${e.message}`);
      process.exit(1);
    },
  );
}
