import t from 'tap';
import {
  areaOf,
  type CpuProfile,
  mergeSummaries,
  summariseProfile,
  summariseProfileWindows,
} from './cpu-profile.ts';

const frame = (id: number, functionName: string, url: string, lineNumber = 0) => ({
  id,
  callFrame: { functionName, url, lineNumber },
});

const PROFILE: CpuProfile = {
  nodes: [
    frame(1, '(root)', ''),
    frame(2, '(idle)', ''),
    frame(3, 'verify', 'file:///work/main/node/src/crypto/fast-verifier.ts', 40),
    frame(4, 'write', 'file:///work/main/node_modules/classic-level/index.js', 9),
    frame(5, 'encode', 'file:///work/main/node_modules/@chainsafe/libp2p-yamux/dist/src/encode.js', 1),
    frame(6, '(garbage collector)', ''),
    frame(7, 'emit', 'node:events', 200),
    frame(8, 'step', 'file:///work/main/consensus/src/pbft/replica.ts', 99),
  ],
  // 4 idle, 3 verify, 1 leveldb, 1 yamux, 1 gc, 1 events, 2 replica = 13 samples, 9 busy.
  samples: [2, 2, 3, 3, 4, 2, 3, 5, 6, 7, 8, 8, 2],
};

t.test('areaOf: Vigil package folders, dependencies (scoped or not), node internals, V8', async (t) => {
  t.equal(areaOf('file:///w/node/src/crypto/fast-verifier.ts', 'verify'), 'node/crypto');
  t.equal(areaOf('file:///w/consensus/src/pbft/replica.ts', 'step'), 'consensus/pbft');
  t.equal(areaOf('file:///w/node/src/validator.ts', 'x'), 'node/validator');
  t.equal(areaOf('file:///w/node_modules/@noble/hashes/sha2.js', 'x'), '@noble/hashes');
  t.equal(areaOf('file:///w/node_modules/cbor-x/encode.js', 'x'), 'cbor-x');
  t.equal(areaOf('node:internal/streams/readable', 'x'), 'node internals');
  t.equal(areaOf('', '(garbage collector)'), '(garbage collector)');
  t.equal(areaOf('', '(idle)'), '(idle)');
  t.equal(areaOf('', '(program)'), '(program/native)');
  t.equal(areaOf('file:///elsewhere/x.js', 'x'), 'other');
});

t.test('summariseProfile: shares of busy (non-idle) samples by area and by function', async (t) => {
  const s = summariseProfile(PROFILE);
  t.equal(s.samples, 13);
  t.equal(s.busySamples, 9);
  t.same(s.byArea[0], { name: 'node/crypto', samples: 3, share: 3 / 9 });
  t.same(s.byArea[1], { name: 'consensus/pbft', samples: 2, share: 2 / 9 });
  t.same(s.byFunction[0], { name: 'verify crypto/fast-verifier.ts:41', samples: 3, share: 3 / 9 });
  t.notOk(
    s.byArea.some((a) => a.name === '(idle)'),
    'idle is not a bottleneck',
  );
  t.equal(
    s.byArea.reduce((a, x) => a + x.samples, 0),
    9,
  );
  t.equal(summariseProfile(PROFILE, 2).byArea.length, 2, 'limit');
  const empty = summariseProfile({ nodes: [], samples: [] });
  t.same(empty, { samples: 0, busySamples: 0, byFunction: [], byArea: [] });
});

t.test('mergeSummaries adds samples across threads', async (t) => {
  const a = summariseProfile(PROFILE);
  const m = mergeSummaries([a, a]);
  t.equal(m.samples, 26);
  t.equal(m.busySamples, 18);
  t.same(m.byArea[0], { name: 'node/crypto', samples: 6, share: 6 / 18 });
});

t.test('summariseProfileWindows: a cost that appears late stands out in its own window', async (t) => {
  // 10 samples 1 ms apart: verify for the first half, leveldb writes for the second.
  const p: CpuProfile = {
    nodes: PROFILE.nodes,
    samples: [3, 3, 3, 3, 3, 4, 4, 4, 4, 4],
    timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
  };
  const w = summariseProfileWindows(p, 2);
  t.equal(w.length, 2);
  t.same(
    w.map((x) => [x.fromMs, x.toMs]),
    [
      [0, 4.5],
      [4.5, 9],
    ],
  );
  t.same(w[0]!.summary.byArea, [{ name: 'node/crypto', samples: 5, share: 1 }]);
  t.same(w[1]!.summary.byArea, [{ name: 'classic-level', samples: 5, share: 1 }]);
  t.equal(summariseProfile(p).byArea.length, 2, 'the whole-run summary mixes them');
  t.same(
    summariseProfileWindows(p, 1)[0]!.summary,
    summariseProfile(p),
    'one window is the whole-run summary',
  );
  t.equal(summariseProfileWindows({ nodes: [], samples: [] }, 3).length, 3, 'empty windows, no throw');
  t.throws(() => summariseProfileWindows(p, 0), RangeError);
});
