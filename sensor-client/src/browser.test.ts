// The browser entry point must not reach a Node built-in through any import chain (static check of
// the import graph, following relative imports and the @vigil/consensus workspace package).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const here = dirname(fileURLToPath(import.meta.url));
const consensusSrc = resolve(here, '../../consensus/src');

function resolveSpecifier(from: string, spec: string): string | undefined {
  if (spec.startsWith('.')) return resolve(dirname(from), spec);
  if (spec === '@vigil/consensus/wire') return join(consensusSrc, 'wire/index.ts');
  if (spec === '@vigil/consensus/proof') return join(consensusSrc, 'proof/index.ts');
  if (spec.startsWith('@vigil/consensus/')) return join(consensusSrc, spec.slice('@vigil/consensus/'.length));
  return undefined; // a third-party package (@noble/*): checked by name below
}

t.test('browser.ts reaches no Node built-in', async (t) => {
  const seen = new Set<string>();
  const offenders: string[] = [];
  const packages = new Set<string>();
  const stack = [join(here, 'browser.ts')];
  while (stack.length) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(
      /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]/g,
    )) {
      const spec = (m[1] ?? m[2])!;
      if (
        spec.startsWith('node:') ||
        ['fs', 'path', 'os', 'crypto', 'zlib', 'worker_threads'].includes(spec)
      ) {
        offenders.push(`${file}: ${spec}`);
        continue;
      }
      const next = resolveSpecifier(file, spec);
      if (next) stack.push(next);
      else packages.add(spec.split('/').slice(0, 2).join('/'));
    }
  }
  t.same(offenders, []);
  t.ok(seen.size > 15, `walked ${seen.size} modules`);
  t.same(
    // cbor-x ships a browser build; wire (consensus/src/wire/index.ts) documents itself as browser-safe.
    [...packages].filter((p) => !p.startsWith('@noble/') && p !== 'cbor-x'),
    [],
    'third-party packages are only @noble (pure JS) and cbor-x (has a browser build)',
  );
});

t.test('every name docs/sensor-client.md imports from the SDK is exported', async (t) => {
  const doc = readFileSync(resolve(here, '../../docs/sensor-client.md'), 'utf8');
  const entries: Record<string, Record<string, unknown>> = {
    '@vigil/sensor-client': await import('./index.ts'),
    '@vigil/sensor-client/browser': await import('./browser.ts'),
  };
  let checked = 0;
  for (const m of doc.matchAll(/import \{([^}]+)\} from '(@vigil\/sensor-client(?:\/browser)?)'/g)) {
    const names = m[1]!
      .split(',')
      .map((n) => n.replace(/^\s*type\s+/, '').trim())
      .filter(Boolean);
    for (const name of names) {
      checked++;
      t.ok(name in entries[m[2]!]!, `${m[2]} exports ${name}`);
    }
  }
  t.ok(checked >= 5, `the doc's imports were found (${checked})`);
  t.equal((entries['@vigil/sensor-client']!.ReadingKind as { heartRate: number }).heartRate, 1);
});
