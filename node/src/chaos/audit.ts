// The end-of-campaign audit, done on the data directories themselves (nodes stopped), not through the
// API the nodes serve: every transaction a client was told was committed must be in the chain exactly
// once on every node, and all nodes must hold the same blocks and the same state root.
import { decodeTransaction, transactionId } from '@vigil/consensus/wire';
import { ChainStore } from '../store/chain-store.ts';

export interface NodeChain {
  home: string;
  height: number;
  stateRoot: string;
  /** blockHash hex by height (index 0 = height 1). */
  blockHashes: string[];
  /** tx id hex -> heights it appears at. */
  txHeights: Map<string, number[]>;
  /** Opening the store failed its startup checks (tamper evidence): the message. */
  error?: string;
}

export interface AuditResult {
  committedChecked: number;
  /** Client-confirmed transactions missing from at least one node (counted once per transaction). */
  lost: number;
  lostIds: string[];
  /** Transactions present more than once in some node's chain. */
  duplicated: number;
  /** Heights at which two nodes hold different blocks, plus 1 if equal-height nodes disagree on the state root. */
  divergent: number;
  divergentHeights: number[];
  heights: number[];
  unreadable: { home: string; error: string }[];
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export async function readChain(home: string, chainDb: string): Promise<NodeChain> {
  // A chain that cannot be opened or read counts as unreadable, not as empty.
  const unreadable = (e: unknown): NodeChain => ({
    home,
    height: 0,
    stateRoot: '',
    blockHashes: [],
    txHeights: new Map(),
    error: (e as Error).message,
  });
  let store: ChainStore;
  try {
    store = await ChainStore.open(chainDb);
  } catch (e) {
    return unreadable(e);
  }
  try {
    const head = store.requireHead();
    const blockHashes: string[] = [];
    const txHeights = new Map<string, number[]>();
    for (let h = 1; h <= head.height; h++) {
      const block = await store.blocks.block(h);
      if (!block) throw new Error(`block ${h} missing below the head ${head.height}`);
      const cert = await store.blocks.certificate(h);
      blockHashes.push(cert ? hex(cert.blockHash) : '');
      for (const bytes of block.txs) {
        let id: string;
        try {
          id = hex(transactionId(decodeTransaction(bytes)));
        } catch {
          continue; // an undecodable tx never counts as anyone's committed transaction
        }
        const list = txHeights.get(id) ?? [];
        list.push(h);
        txHeights.set(id, list);
      }
    }
    return { home, height: head.height, stateRoot: hex(head.stateRoot), blockHashes, txHeights };
  } catch (e) {
    return unreadable(e);
  } finally {
    await store.close();
  }
}

export function audit(chains: readonly NodeChain[], committed: readonly string[]): AuditResult {
  const readable = chains.filter((c) => !c.error);
  const lostIds: string[] = [];
  for (const id of committed) {
    if (readable.some((c) => !c.txHeights.has(id))) lostIds.push(id);
  }
  let duplicated = 0;
  const dupIds = new Set<string>();
  for (const c of readable) {
    for (const [id, hs] of c.txHeights) if (hs.length > 1 && !dupIds.has(id)) dupIds.add(id);
  }
  duplicated = dupIds.size;
  const divergentHeights: number[] = [];
  const maxCommon = Math.min(...readable.map((c) => c.blockHashes.length));
  for (let i = 0; i < maxCommon; i++) {
    if (new Set(readable.map((c) => c.blockHashes[i])).size > 1) divergentHeights.push(i + 1);
  }
  let divergent = divergentHeights.length;
  const byHeight = new Map<number, Set<string>>();
  for (const c of readable) byHeight.set(c.height, (byHeight.get(c.height) ?? new Set()).add(c.stateRoot));
  for (const roots of byHeight.values()) if (roots.size > 1) divergent++;
  return {
    committedChecked: committed.length,
    lost: lostIds.length,
    lostIds: lostIds.slice(0, 20),
    duplicated,
    divergent,
    divergentHeights: divergentHeights.slice(0, 20),
    heights: chains.map((c) => c.height),
    unreadable: chains.filter((c) => c.error).map((c) => ({ home: c.home, error: c.error! })),
  };
}
