// `npm run bench -- <name> [options]`: runs one benchmark and prints a table and a JSON line.
// `npm run bench` / `npm run bench -- --quick` (no name): the whole suite (suite.ts) with results in
// bench/results/.
const benches: Record<string, () => Promise<{ main: () => Promise<void> }>> = {
  node: () => import('./node-exec.ts'),
  suite: () => import('./suite.ts'),
  profile: () => import('./profile.ts'),
  render: () => import('./render.ts'),
  probe: () => import('./probe.ts'),
};

const first = process.argv[2];
// No name (or an option first) runs the suite with every argument as its options.
const name = first === undefined || first.startsWith('--') ? 'suite' : first;
if (name === 'suite' && first === 'suite') process.argv.splice(2, 1);
const load = benches[name];
if (load === undefined) {
  console.error(
    `usage: npm run bench -- [--quick] [--seed N] [--only sim,node,real] | <${Object.keys(benches).join('|')}> [options]`,
  );
  process.exit(2);
}
await (await load()).main();
