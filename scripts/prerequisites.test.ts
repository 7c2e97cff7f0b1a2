// README's prerequisites and package.json must say the same thing, and be true: the system Node only
// runs npm (the node@24 dev-dependency runs every script), so `engines` names what npm needs, and the
// README the same version. They drifted once: README said ≥ 20 while engines said ≥ 22.
import { readFileSync } from 'node:fs';
import t from 'tap';

const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
};
// Words, not lines: the README wraps at 110 columns wherever it likes.
const readme = readFileSync(new URL('README.md', root), 'utf8').replace(/\s+/g, ' ');

t.test("README's Node prerequisite is package.json's engines.node", async (t) => {
  const engines = /^>=(\d+)$/.exec(pkg.engines.node)?.[1];
  const stated = /Node\.js ≥ (\d+) and npm/.exec(readme)?.[1];
  t.ok(engines, `engines.node is >=N (${pkg.engines.node})`);
  t.equal(stated, engines, 'README names the same major version');
});

t.test('the Node that runs the scripts is the one README names', async (t) => {
  const major = /^\^?(\d+)\./.exec(pkg.devDependencies.node ?? '')?.[1];
  t.ok(major, 'node is a dev-dependency');
  t.match(readme, `\`node@${major}\` dev-dependency`);
  t.match(readme, `Node ${major} runs the TypeScript sources`);
});
