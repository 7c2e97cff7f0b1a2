// `npm start`: the newcomer's entry point. The full job (four validator processes on loopback with
// simulated sensors, issue #6) is not built yet; until it is, this says so plainly instead of pretending.
const lines = [
  'Vigil devnet',
  '',
  'Not available yet: `npm start` will run a local 4-validator PBFT network (APIs on 127.0.0.1:7701-7704)',
  'with simulated bedside sensors once the node process and p2p layer land (issue #6).',
  '',
  'What you can run today:',
  '  npm test                              the whole test suite',
  '  npm run sim -- --scenario NAME --seed N   the deterministic PBFT simulator (once consensus lands)',
];
console.log(lines.join('\n'));
