// The genesis file's consensus.stateRootInterval (ADR 0117): default 1, checked, and a chain of its own.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { genesisHash } from '../store/chain-store.ts';
import { type GenesisFile, parseGenesis, toChainGenesis } from './genesis-file.ts';
import { createNetworkHomes } from './network-homes.ts';

const dir = mkdtempSync(join(tmpdir(), 'vigil-genesis-file-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const base = createNetworkHomes({ dir, validators: 4, seedLabel: 'genesis-file-test' }).genesis;

/** The genesis document as an operator would write it, with `consensus` replaced. */
function doc(consensus: Record<string, unknown>): unknown {
  const { consensus: _, ...rest } = JSON.parse(JSON.stringify(base)) as GenesisFile;
  return { ...rest, consensus };
}

t.test('absent: 1, the chain of before', async (t) => {
  const g = parseGenesis(doc({ checkpointInterval: 16 }));
  t.equal(g.consensus.stateRootInterval, 1);
  const spec = toChainGenesis(g);
  t.same(genesisHash(spec), genesisHash({ ...spec, stateRootInterval: undefined }), 'same genesis hash');
});

t.test('a value is carried to the chain and changes its genesis hash', async (t) => {
  const g = parseGenesis(doc({ stateRootInterval: 8 }));
  t.equal(g.consensus.stateRootInterval, 8);
  t.equal(toChainGenesis(g).stateRootInterval, 8);
  t.notSame(genesisHash(toChainGenesis(g)), genesisHash(toChainGenesis(parseGenesis(doc({})))));
});

t.test('out of range or not a whole number: refused', async (t) => {
  for (const bad of [0, -8, 2.5, '8', 1025, null]) {
    t.throws(
      () => parseGenesis(doc({ stateRootInterval: bad })),
      { name: 'GenesisFileError', code: 'INVALID_GENESIS_FILE' },
      JSON.stringify(bad),
    );
  }
});
