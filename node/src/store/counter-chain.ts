// Test support for the state-tree storage tests (held-tree.test.ts, root-interval.test.ts): a chain
// store in a temporary directory with an executor running the counter handler, blocks built from the
// caller's transactions, and a simulated kill. Not a test file itself (tap runs *.test.ts only).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { referenceVerifier } from '@vigil/consensus/wire';
import { BlockExecutor } from '../exec/executor.ts';
import {
  certify,
  counterHandlers,
  nextBlock,
  TEST_CHAIN,
  testGenesis,
  testValidators,
} from '../exec/testing.ts';
import { inlineBatchVerifier } from '../verify-pool/types.ts';
import { ChainStore } from './chain-store.ts';
import { prefixRange } from './keys.ts';

export const counterValidators = testValidators(4);

export interface CounterChain {
  dir: string;
  store: ChainStore;
  exec: BlockExecutor;
  /** Each sender's last nonce used (the caller's transaction builder advances them). */
  nonces: number[];
}

export interface CounterChainOptions {
  treeInterval: number;
  /** The chain's state-root interval (ADR 0117), used when the directory is new. Default 1. */
  stateRootInterval?: number;
  /** Reopen this directory (a restart); the caller then owns its removal. Default: a new one. */
  dir?: string;
  senders: number;
  /** The nonces of the chain being reopened. */
  nonces?: number[];
}

/**
 * Opens (creating if new) a counter chain. A new directory is closed and removed when the test ends;
 * a reopened one is the caller's to close and remove.
 */
export async function openCounterChain(t: Test, o: CounterChainOptions): Promise<CounterChain> {
  const home = o.dir ?? (await mkdtemp(join(tmpdir(), 'vigil-counter-chain-')));
  const store = await ChainStore.open(home, { treeInterval: o.treeInterval });
  if (store.head === undefined) {
    await store.initChain({ ...testGenesis(counterValidators), stateRootInterval: o.stateRootInterval ?? 1 });
  }
  const chain: CounterChain = {
    dir: home,
    store,
    exec: new BlockExecutor({
      store,
      handlers: counterHandlers,
      verifier: inlineBatchVerifier(referenceVerifier),
    }),
    nonces: o.nonces ?? Array.from({ length: o.senders }, () => 0),
  };
  if (o.dir === undefined) {
    t.teardown(async () => {
      await chain.store.close();
      await rm(home, { recursive: true, force: true });
    });
  }
  return chain;
}

/**
 * Applies `count` blocks on the chain's head, block h carrying txsOf(chain, h) with timestamp t0 + 1000 h;
 * returns their state roots in hex.
 */
export async function applyCounterBlocks(
  chain: CounterChain,
  count: number,
  txsOf: (chain: CounterChain, height: number) => Uint8Array[],
  t0: number,
): Promise<string[]> {
  const roots: string[] = [];
  for (let i = 0; i < count; i++) {
    const head = chain.store.requireHead();
    const h = head.height + 1;
    const block = nextBlock(head, txsOf(chain, h), t0 + 1000 * h);
    const r = await chain.exec.applyBlock(block, certify(TEST_CHAIN, block, counterValidators));
    roots.push(Buffer.from(r.stateRoot).toString('hex'));
  }
  return roots;
}

/** Records under one key prefix. */
export async function countKeys(store: ChainStore, prefix: number): Promise<number> {
  let n = 0;
  for await (const _ of store.db.keys(prefixRange(prefix))) n++;
  return n;
}

/** Simulates a kill: LevelDB closed under the store, nothing the store holds in memory written. */
export async function crash(chain: CounterChain): Promise<void> {
  await chain.store.db.close();
}
