import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { checkLayering } from './check-layering.ts';

t.test('flags randomness, clocks and upward imports, ignores comments', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-layering-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'consensus/src'), { recursive: true });
  mkdirSync(join(root, 'p2p/src'), { recursive: true });
  writeFileSync(
    join(root, 'consensus/src/bad.ts'),
    ['// Math.random is fine in a comment', 'export const r = Math.random();', 'const n = Date.now();'].join(
      '\n',
    ),
  );
  writeFileSync(join(root, 'p2p/src/bad.ts'), "import { x } from '@vigil/node/src/x.ts';\n");
  writeFileSync(join(root, 'consensus/src/good.ts'), 'export const x = Math.floor(1.5); /* Math.random */\n');
  const v = checkLayering(root);
  t.same(v.map((x) => `${x.file}:${x.line}:${x.rule}`).sort(), [
    'consensus/src/bad.ts:2:consensus-no-randomness',
    'consensus/src/bad.ts:3:consensus-no-clock',
    'p2p/src/bad.ts:1:nothing-imports-node',
  ]);
  t.end();
});

t.test('the repository itself has no layering violations', (t) => {
  t.same(checkLayering(process.cwd()), []);
  t.end();
});
