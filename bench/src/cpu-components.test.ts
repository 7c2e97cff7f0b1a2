import t from 'tap';
import {
  Component,
  componentOfFrame,
  componentShares,
  mergeComponentShares,
  runningFunctionCounts,
  topFunctions,
  withoutComponent,
} from './cpu-components.ts';

const R = '/work/vigil';
type N = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
};
const frame = (id: number, functionName: string, url: string, children: number[] = []): N => ({
  id,
  callFrame: { functionName, url, lineNumber: 0 },
  children,
});

// (root)
//  ├ (idle)                                                         2
//  ├ (garbage collector)                                            3
//  ├ processTicks (node:internal/process)                           — no component
//  │  ├ #apply (node/src/exec)
//  │  │  ├ update (node/src/state-tree) ─ hash (node:crypto)        4
//  │  │  ├ _put (classic-level)                                     2
//  │  │  └ handler (node/src/state-machine)                         1
//  │  ├ add (node/src/mempool) ─ verifyOneShot (node:crypto)        5
//  │  └ emit (node:events)                                          1   -> other
//  └ run_main (node:internal/modules/run_main)
//     ├ compile (node:internal/modules/esm/utils)                   3   -> start-up
//     └ main (node/src/cli) ─ decode (consensus/src/wire)           1   -> CBOR
const nodes: N[] = [
  frame(1, '(root)', '', [2, 3, 4, 13]),
  frame(2, '(idle)', ''),
  frame(3, '(garbage collector)', ''),
  frame(4, 'processTicksAndRejections', 'node:internal/process/task_queues', [5, 9, 11]),
  frame(5, '#apply', `file://${R}/node/src/exec/executor.ts`, [6, 7, 8]),
  frame(6, 'update', `file://${R}/node/src/state-tree/tree.ts`, [16]),
  frame(7, '_put', `file://${R}/node_modules/classic-level/chained-batch.js`),
  frame(8, 'submitReadings', `file://${R}/node/src/state-machine/handlers/readings.ts`),
  frame(9, 'add', `file://${R}/node/src/mempool/mempool.ts`, [10]),
  frame(10, 'verifyOneShot', 'node:internal/crypto/sig'),
  frame(11, 'emit', 'node:events'),
  frame(13, 'runEntryPointWithESMLoader', 'node:internal/modules/run_main', [14, 15]),
  frame(14, 'compileSourceTextModule', 'node:internal/modules/esm/utils'),
  frame(15, 'main', `file://${R}/node/src/cli/validator.ts`, [17]),
  frame(16, 'hash', 'node:internal/crypto/hash'),
  frame(17, 'decodeCanonical', `file://${R}/consensus/src/wire/cbor.ts`),
];
const samples = [
  ...Array(2).fill(2),
  ...Array(3).fill(3),
  ...Array(4).fill(16),
  ...Array(2).fill(7),
  8,
  ...Array(5).fill(10),
  11,
  ...Array(3).fill(14),
  17,
];

t.test('each busy sample goes to the innermost frame that names a component', async (t) => {
  const shares = componentShares({ nodes, samples });
  const got = Object.fromEntries(shares.map((s) => [s.name, s.samples]));
  t.same(got, {
    [Component.signatures]: 5,
    [Component.stateTree]: 4,
    [Component.gc]: 3,
    [Component.startup]: 3,
    [Component.storage]: 2,
    [Component.execution]: 1,
    [Component.other]: 1,
    [Component.cbor]: 1,
  });
  t.equal(
    shares.reduce((a, s) => a + s.samples, 0),
    samples.length - 2,
    'idle samples are not counted',
  );
  t.equal(shares[0]!.name, Component.signatures, 'largest first');
  t.ok(Math.abs(shares.reduce((a, s) => a + s.share, 0) - 1) < 1e-9, 'shares of busy samples sum to 1');
  // The same answers whatever order the samples come in (the per-node memo depends only on a stack).
  const reversed = componentShares({ nodes, samples: [...samples].reverse() });
  t.same(Object.fromEntries(reversed.map((s) => [s.name, s.samples])), got);
});

t.test('frames: packages and Vigil folders by URL, V8 pseudo-frames by name', async (t) => {
  const c = (url: string, fn = 'f') => componentOfFrame({ functionName: fn, url });
  t.equal(c(`file://${R}/node_modules/@chainsafe/libp2p-noise/dist/src/crypto.js`), Component.encryption);
  t.equal(c(`file://${R}/node_modules/@chainsafe/libp2p-yamux/dist/src/muxer.js`), Component.network);
  t.equal(c(`file://${R}/p2p/src/network.ts`), Component.network);
  t.equal(c(`file://${R}/consensus/src/pbft/replica.ts`), Component.consensus);
  t.equal(c(`file://${R}/node_modules/fastify/lib/route.js`), Component.http);
  t.equal(c(`file://${R}/node/src/verify-pool/pool.ts`), Component.signatures);
  t.equal(c(`file://${R}/node_modules/prom-client/lib/counter.js`), Component.metrics);
  t.equal(c('node:events'), undefined);
  t.equal(c('', '(garbage collector)'), Component.gc);
});

t.test('merging threads adds their samples', async (t) => {
  const a = [
    { name: Component.stateTree, samples: 3, share: 0.75 },
    { name: Component.gc, samples: 1, share: 0.25 },
  ];
  const b = [{ name: Component.gc, samples: 4, share: 1 }];
  t.same(mergeComponentShares([a, b]), [
    { name: Component.gc, samples: 5, share: 5 / 8 },
    { name: Component.stateTree, samples: 3, share: 3 / 8 },
  ]);
});

t.test('start-up is left out of the running shares and of the function table', async (t) => {
  const { shares, removed } = withoutComponent(componentShares({ nodes, samples }), Component.startup);
  t.equal(removed, 3);
  t.notOk(shares.some((s) => s.name === Component.startup));
  t.equal(shares[0]!.name, Component.signatures);
  t.equal(shares[0]!.share, 5 / 17, 'renormalised over the other 17 busy samples');
  const fns = runningFunctionCounts({ nodes, samples });
  t.notOk(
    [...fns.keys()].some((k) => k.startsWith('compileSourceTextModule')),
    'no loader frames',
  );
  t.equal(
    [...fns.values()].reduce((a, n) => a + n, 0),
    17,
  );
  const top = topFunctions([fns, fns], 2);
  t.same(
    top.map((s) => [s.name, s.samples, s.share]),
    [
      ['verifyOneShot crypto/sig:1', 10, 10 / 34],
      ['hash crypto/hash:1', 8, 8 / 34],
    ],
  );
});

t.test("compiling a module is start-up even under a package's own require", async (t) => {
  const p = {
    nodes: [
      frame(1, '(root)', '', [2]),
      frame(2, 'onMessage', 'node:internal/per_context/messageport', [3, 5]),
      frame(3, '__require', `file://${R}/node_modules/@noble/hashes/index.js`, [4]),
      frame(4, 'wrapSafe', 'node:internal/modules/cjs/loader'),
      frame(5, 'verify', `file://${R}/node_modules/@noble/hashes/index.js`),
    ],
    samples: [4, 4, 5],
  };
  t.same(
    componentShares(p).map((s) => [s.name, s.samples]),
    [
      [Component.startup, 2],
      [Component.signatures, 1],
    ],
  );
});
