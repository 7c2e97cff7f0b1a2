// The deterministic workload of the crash-safety test (crash.test.ts and its child crash-child.ts):
// block h holds one counter transaction from each of three senders with nonce h, plus a transaction
// with a nonce gap every 5th block and a handler rejection every 7th, so that receipts of every kind
// and index writes happen between kills. The parent builds and signs the blocks once and writes them
// to a file; children only read, verify and apply them (signing in every child would dominate).
import { readFile, writeFile } from 'node:fs/promises';
import {
  type Block,
  type CommitCertificate,
  decodeBlock,
  decodeCommitCertificate,
  encodeBlock,
  encodeCommitCertificate,
  type Signer,
} from '@vigil/consensus/wire';
import type { ChainStore } from '../store/chain-store.ts';
import type { BlockExecutor, BlockResult } from './executor.ts';
import { certify, counterTx, nextBlock, seededSigner, TEST_CHAIN } from './testing.ts';

const senders = [0, 1, 2].map((i) => seededSigner(3, i));
const T0 = 1_700_000_000_000;

export function workloadTxs(height: number): Uint8Array[] {
  const txs = senders.map((s, i) =>
    counterTx(s, height, height % 7 === 0 && i === 1 ? 'reject' : `c${(height * 7 + i) % 23}`, i + 1, {
      chainId: TEST_CHAIN,
    }),
  );
  if (height % 5 === 0) txs.push(counterTx(senders[0]!, height + 2, 'gap', 1));
  return txs;
}

export interface CertifiedBlock {
  block: Block;
  certificate: CommitCertificate;
}

/** Builds, certifies and applies the next workload block on `store`. */
export async function applyWorkloadBlock(
  store: ChainStore,
  exec: BlockExecutor,
  validators: Signer[],
): Promise<{ result: BlockResult; certified: CertifiedBlock }> {
  const head = store.requireHead();
  const block = nextBlock(head, workloadTxs(head.height + 1), T0 + (head.height + 1) * 1000);
  const certificate = certify(head.chainId, block, validators);
  const result = await exec.applyBlock(block, certificate);
  return { result, certified: { block, certificate } };
}

/** File format: repeated [u32 blockLength, block, u32 certLength, certificate]. */
export async function writeBlockFile(path: string, blocks: readonly CertifiedBlock[]): Promise<void> {
  const parts: Uint8Array[] = [];
  for (const b of blocks) {
    for (const bytes of [encodeBlock(b.block), encodeCommitCertificate(b.certificate)]) {
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, bytes.length);
      parts.push(len, bytes);
    }
  }
  await writeFile(path, Buffer.concat(parts));
}

/** Reads the file's records lazily: decoding every block up front would delay the first apply. */
export async function* readBlockFile(path: string, skip = 0): AsyncGenerator<CertifiedBlock> {
  const buf = new Uint8Array(await readFile(path));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = 0;
  const next = (): Uint8Array => {
    const len = view.getUint32(o);
    const bytes = buf.subarray(o + 4, o + 4 + len);
    o += 4 + len;
    return bytes;
  };
  for (let i = 0; o < buf.length; i++) {
    const block = next();
    const cert = next();
    if (i >= skip) yield { block: decodeBlock(block), certificate: decodeCommitCertificate(cert) };
  }
}
