// The genesis file's consensus.stateRootInterval (ADR 0117): default 1, checked, and a chain of its own.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { genesisHash } from '../store/chain-store.ts';
import { type GenesisFile, loadGenesis, parseGenesis, toChainGenesis } from './genesis-file.ts';
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

t.test('loadGenesis: a missing file and an unreadable or malformed one have their own codes', async (t) => {
  t.throws(() => loadGenesis(join(dir, 'no-such-genesis.json')), {
    name: 'GenesisFileError',
    code: 'GENESIS_FILE_NOT_FOUND',
  });
  const notJson = join(dir, 'not-json.json');
  writeFileSync(notJson, '{ nope');
  t.throws(() => loadGenesis(notJson), { code: 'INVALID_GENESIS_FILE' });
  t.throws(() => loadGenesis(dir), { code: 'INVALID_GENESIS_FILE' }, 'a directory is not a genesis file');
  const good = join(dir, 'genesis.json');
  writeFileSync(good, JSON.stringify(base));
  t.equal(loadGenesis(good).chainId, base.chainId);
});
