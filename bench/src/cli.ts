// `npm run bench -- <name> [options]`: runs one benchmark and prints a table and a JSON line.
const benches: Record<string, () => Promise<{ main: () => Promise<void> }>> = {
  node: () => import('./node-exec.ts'),
};

const name = process.argv[2];
const load = name === undefined ? undefined : benches[name];
if (load === undefined) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [options]`);
  process.exit(2);
}
await (await load()).main();
