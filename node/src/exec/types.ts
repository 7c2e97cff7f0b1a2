// The contract between block execution (node/src/exec, the framework) and the access-control state
// machine (node/src/state-machine, the transaction handlers). Execution is deterministic: a handler may
// read only the state, the block context and the transaction; never the clock, randomness or I/O.

import type { Transaction } from '@vigil/consensus/wire';

/**
 * Merkleised application state (identities, roles, grants, alerts, nonces...). Keys are arbitrary bytes
 * chosen by the state machine (prefix them by record type); values are canonical CBOR. Reads see the
 * writes made earlier in the same block and, within a transaction, that transaction's own writes.
 */
export interface StateAccess {
  /** The value is shared with the store's caches, not copied (one read per record on the hot path):
   *  the caller must treat it as read-only; decode it, never modify it in place. */
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Takes ownership of `key` and `value`: the caller must not modify either afterwards (they are
   *  kept, not copied, until the block's batch is written). */
  put(key: Uint8Array, value: Uint8Array): void;
  /** Takes ownership of `key`, as put. */
  del(key: Uint8Array): void;
}

/**
 * Non-merkleised secondary data derived from committed blocks (reading series by patient and time,
 * the read-audit index...). It is rebuilt from blocks if lost, so it is not part of the state root, but
 * it is written in the same atomic batch as the block. Range scans are for the query layer, not handlers.
 */
export interface IndexAccess {
  /** Takes ownership of `key` and `value`, as StateAccess.put. */
  put(key: Uint8Array, value: Uint8Array): void;
  del(key: Uint8Array): void;
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
}

/** Something the chain tells the outside world about (an alert raised, a grant expiring...). */
export interface ChainEvent {
  kind: string;
  /** Canonical-CBOR-encodable payload, interpreted by `kind`. */
  data: unknown;
}

export interface ExecContext {
  chainId: string;
  height: number;
  /** The block's timestamp in milliseconds since the Unix epoch: the only notion of "now". */
  blockTime: number;
  /** Position of the transaction in the block. */
  position: number;
  txId: Uint8Array;
  state: StateAccess;
  index: IndexAccess;
  emit(event: ChainEvent): void;
}

/**
 * Runs one transaction whose envelope, signature, chain id and nonce were already checked by the
 * framework. Rejects by throwing `TxRejected` (node/src/exec/errors.ts) with a stable code; the
 * framework then discards every state and index write the handler made, records a rejected receipt,
 * and still consumes the sender's nonce so the transaction cannot be replayed.
 */
export type TxHandler = (ctx: ExecContext, tx: Transaction) => Promise<void>;

/** Per-transaction-type handlers, keyed by the numeric tx type from @vigil/consensus/wire. */
export type HandlerRegistry = ReadonlyMap<number, TxHandler>;
