// Helpers for tests, the crash-safety child process and the benchmark: a deterministic validator set
// that certifies blocks, a block builder on top of a chain head, and a tiny "counter" handler set so
// the executor can be exercised without the access-control state machine. Not used in production.
import { createPrivateKey, createPublicKey, sign as cryptoSign } from 'node:crypto';
import {
  type Block,
  blockHash,
  type CommitCertificate,
  commitVoteSignBytes,
  encodeCanonical,
  encodeTransaction,
  makeBlock,
  quorumSize,
  type Signer,
  signerFromSeed,
  signTransaction,
  TxType,
} from '@vigil/consensus/wire';
import type { ChainHead, ChainStore, GenesisSpec } from '../store/chain-store.ts';
import { prefixRange } from '../store/keys.ts';
import { TxRejected } from './errors.ts';
import type { HandlerRegistry, TxHandler } from './types.ts';
import type { BlockExecutor, BlockOutcome, CertifiedBlock } from './executor.ts';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * An ed25519 signer on node:crypto: the same deterministic RFC 8032 signatures as signerFromSeed
 * for the same seed, ~30x faster to produce (tests and benchmarks that sign thousands of messages).
 */
export function nodeCryptoSigner(seed32: Uint8Array): Signer {
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed32]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const publicKey = new Uint8Array(spki.subarray(spki.length - 32));
  return { publicKey, sign: (m) => new Uint8Array(cryptoSign(null, m, key)) };
}

export function seededSigner(tag: number, index: number): Signer {
  const seed = new Uint8Array(32);
  seed[0] = tag;
  new DataView(seed.buffer).setUint32(1, index);
  return signerFromSeed(seed);
}

export function testValidators(n = 4): Signer[] {
  return Array.from({ length: n }, (_, i) => seededSigner(0xa0, i));
}

export const TEST_CHAIN = 'vigil-test';

export function testGenesis(validators: Signer[], chainId = TEST_CHAIN): GenesisSpec {
  return {
    chainId,
    genesisTime: 1_700_000_000_000,
    validators: validators.map((v) => v.publicKey),
    state: [{ key: new TextEncoder().encode('genesis/marker'), value: encodeCanonical('hello') }],
  };
}

/** A commit certificate signed by the first quorum of `validators`. */
export function certify(
  chainId: string,
  block: Block,
  validators: Signer[],
  view = block.header.view,
): CommitCertificate {
  const hash = blockHash(block.header);
  const q = quorumSize(validators.length);
  const votes = validators.slice(0, q).map((signer, validator) => ({
    validator,
    signature: signer.sign(
      commitVoteSignBytes(chainId, { view, height: block.header.height, blockHash: hash, validator }),
    ),
  }));
  return { height: block.header.height, view, blockHash: hash, votes };
}

/** The next block on `head` (stateRoot = head's root: a non-pipelined proposer). */
export function nextBlock(head: ChainHead, txs: Uint8Array[], timestamp: number, proposer = 0): Block {
  return makeBlock(
    {
      version: 1,
      chainId: head.chainId,
      height: head.height + 1,
      view: 0,
      prevHash: head.headHash,
      stateRoot: head.stateRoot,
      stateHeight: head.height,
      proposer,
      timestamp,
    },
    txs,
  );
}

const utf8 = new TextEncoder();

/** State key of counter `name`. */
export function counterKey(name: string): Uint8Array {
  return utf8.encode(`counter/${name}`);
}

/**
 * Test handler on tx type submitReadings: body [name, delta]. Adds delta to counter `name`, writes an
 * index entry and emits an event. name "reject" writes first and then rejects (TEST_REJECTED), "crash"
 * throws a plain Error (a handler bug), "huge" writes a value over the size limit.
 */
export const counterHandler: TxHandler = async (ctx, tx) => {
  const [name, delta] = tx.body;
  if (typeof name !== 'string' || typeof delta !== 'number') throw new TxRejected('BAD_BODY');
  const key = counterKey(name);
  const current = await ctx.state.get(key);
  const value =
    (current === undefined ? 0 : Number(new DataView(current.buffer, current.byteOffset).getUint32(0))) +
    delta;
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  ctx.state.put(key, out);
  ctx.index.put(utf8.encode(`idx/${name}/${ctx.height}/${ctx.position}`), Uint8Array.of(delta));
  if (name === 'reject') throw new TxRejected('TEST_REJECTED');
  if (name === 'crash') throw new Error('handler bug');
  if (name === 'huge') ctx.state.put(key, new Uint8Array(64 * 1024 + 1));
  ctx.emit({ kind: 'counted', data: [name, value] });
};

export const counterHandlers: HandlerRegistry = new Map([[TxType.submitReadings, counterHandler]]);

/** A signed counter transaction. */
export function counterTx(
  signer: Signer,
  nonce: number,
  name: string,
  delta: number,
  options: { chainId?: string; timestamp?: number } = {},
): Uint8Array {
  return encodeTransaction(
    signTransaction(
      {
        version: 1,
        chainId: options.chainId ?? TEST_CHAIN,
        type: TxType.submitReadings,
        sender: signer.publicKey,
        nonce,
        timestamp: options.timestamp ?? 1_700_000_000_000,
        body: [name, delta],
      },
      signer,
    ),
  );
}

/** Every record of `store` with one of these key prefixes, hex key -> hex value (tests compare stores). */
export async function dumpRecords(
  store: ChainStore,
  prefixes: readonly number[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of prefixes) {
    for await (const [k, v] of store.db.iterator(prefixRange(p))) {
      out.set(Buffer.from(k).toString('hex'), Buffer.from(v).toString('hex'));
    }
  }
  return out;
}

/**
 * Applies each list of transactions as the next block on its own (live execution's path, signatures
 * trusted), certified by `validators`, and returns the chain with each block's outcome.
 */
export async function executeChain(
  exec: BlockExecutor,
  store: ChainStore,
  blocks: readonly Uint8Array[][],
  validators: Signer[],
  timeOf: (height: number) => number,
): Promise<{ chain: CertifiedBlock[]; outcomes: BlockOutcome[] }> {
  const chain: CertifiedBlock[] = [];
  const outcomes: BlockOutcome[] = [];
  for (const txs of blocks) {
    const head = store.requireHead();
    const block = nextBlock(head, [...txs], timeOf(head.height + 1));
    const certificate = certify(head.chainId, block, validators);
    outcomes.push(await exec.applyBlock(block, certificate, { trustCertified: true }));
    chain.push({ block, certificate });
  }
  return { chain, outcomes };
}
