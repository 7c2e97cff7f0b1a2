// A small executor for tests: applies blocks of signed transactions to in-memory state and index, with
// the framework's rules emulated (node/src/exec does the real thing): chain id, signature, per-sender
// nonce = last + 1 (a wrong nonce is rejected without consuming it), a committed transaction id is a
// DUPLICATE_TX, and a handler's TxRejected discards its writes and events but consumes the nonce.

import {
  encodeCanonical,
  isWireError,
  referenceVerifier,
  sha256,
  signTransaction,
  type Signer,
  signerFromSeed,
  type Transaction,
  toHex,
  transactionId,
  type Verifier,
  verifyTransactionSignature,
} from '@vigil/consensus/wire';
import { encodeBody, type TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import { TxRejected } from '../../exec/errors.ts';
import type { ChainEvent, HandlerRegistry } from '../../exec/types.ts';
import { RejectCode } from '../codes.ts';
import { type GenesisSpec, genesisState } from '../genesis.ts';
import { createHandlers } from '../handlers/index.ts';
import { makeKey } from '../keys.ts';
import type { ReadView } from '../query.ts';
import { MemoryKv, Overlay } from './memory-kv.ts';

export interface Receipt {
  txId: Uint8Array;
  ok: boolean;
  code?: string;
}

/** Harness-only key for the framework's per-sender nonce (the real executor has its own layout). */
const nonceKey = (sender: Uint8Array) => makeKey('harness-nonce', sender);

export class Harness {
  readonly state = new MemoryKv();
  readonly index = new MemoryKv();
  readonly events: { height: number; event: ChainEvent }[] = [];
  readonly committedTxIds = new Set<string>();
  height = 0;
  lastBlockTime: number;
  private readonly handlers: HandlerRegistry;

  readonly genesis: GenesisSpec;
  private readonly opts: { verifier?: Verifier | null };

  /** `verifier: null` skips signature checks (for large property runs: signing is the slow part). */
  constructor(genesis: GenesisSpec, opts: { verifier?: Verifier | null } = {}) {
    this.genesis = genesis;
    this.opts = opts;
    for (const { key, value } of genesisState(genesis)) this.state.map.set(toHex(key), value);
    this.handlers = createHandlers();
    this.lastBlockTime = genesis.genesisTime;
  }

  get chainId(): string {
    return this.genesis.chainId;
  }

  /** Every block applied, in order, so another harness can replay the chain. */
  readonly blocks: { txs: Transaction[]; blockTime: number; receipts: Receipt[] }[] = [];

  async applyBlock(txs: Transaction[], blockTime: number): Promise<Receipt[]> {
    if (blockTime < this.lastBlockTime) throw new Error('block time went backwards');
    this.height++;
    this.lastBlockTime = blockTime;
    const receipts: Receipt[] = [];
    for (const [position, tx] of txs.entries()) receipts.push(await this.applyTx(tx, blockTime, position));
    this.blocks.push({ txs, blockTime, receipts });
    return receipts;
  }

  private async applyTx(tx: Transaction, blockTime: number, position: number): Promise<Receipt> {
    let txId: Uint8Array;
    try {
      txId = transactionId(tx);
    } catch (e) {
      // The real executor decodes the envelope first; an invalid one (e.g. unknown type) never runs.
      if (isWireError(e)) return { txId: new Uint8Array(32), ok: false, code: e.code };
      throw e;
    }
    const fail = (code: string): Receipt => ({ txId, ok: false, code });
    if (tx.chainId !== this.chainId) return fail(RejectCode.WRONG_CHAIN);
    const verifier = this.opts.verifier === undefined ? referenceVerifier : this.opts.verifier;
    if (verifier && !verifyTransactionSignature(tx, verifier)) return fail(RejectCode.BAD_SIGNATURE);
    if (this.committedTxIds.has(toHex(txId))) return fail(RejectCode.DUPLICATE_TX);
    const last = Number(
      new TextDecoder().decode((await this.state.get(nonceKey(tx.sender))) ?? new Uint8Array()) || 0,
    );
    if (tx.nonce <= last) return fail(RejectCode.NONCE_TOO_LOW);
    if (tx.nonce > last + 1) return fail(RejectCode.NONCE_GAP);
    this.committedTxIds.add(toHex(txId));
    this.state.map.set(toHex(nonceKey(tx.sender)), new TextEncoder().encode(String(tx.nonce)));
    const handler = this.handlers.get(tx.type);
    if (!handler) return fail(RejectCode.UNKNOWN_TX_TYPE);
    const state = new Overlay(this.state);
    const index = new Overlay(this.index);
    const events: ChainEvent[] = [];
    try {
      await handler(
        {
          chainId: this.chainId,
          height: this.height,
          blockTime,
          position,
          txId,
          state,
          index,
          emit: (e) => events.push(e),
        },
        tx,
      );
    } catch (e) {
      if (e instanceof TxRejected) return fail(e.code);
      throw e;
    }
    state.commit();
    index.commit();
    for (const event of events) this.events.push({ height: this.height, event });
    return { txId, ok: true };
  }

  view(): ReadView {
    return { state: this.state, index: this.index };
  }

  /** SHA-256 over the canonical dump of state and index: equal iff both are byte-identical. */
  root(): Uint8Array {
    return sha256(encodeCanonical([this.state.dump().flat(), this.index.dump().flat()]));
  }
}

/** A key holder that builds signed transactions with consecutive nonces. */
export class TestActor {
  readonly signer: Signer;
  nonce = 0;
  readonly chainId: string;
  constructor(seedByte: number | Uint8Array, chainId: string) {
    this.chainId = chainId;
    const seed =
      typeof seedByte === 'number' ? sha256(new TextEncoder().encode(`actor-${seedByte}`)) : seedByte;
    this.signer = signerFromSeed(seed);
  }

  get key(): Uint8Array {
    return this.signer.publicKey;
  }

  /** False: a zero signature (only for a Harness built with `verifier: null`; signing dominates big runs). */
  signs = true;

  tx(body: TxBody, timestamp = 0, nonce = ++this.nonce): Transaction {
    if (!this.signs) {
      const unsigned = {
        version: 1,
        chainId: this.chainId,
        type: body.type,
        sender: this.key,
        nonce,
        timestamp,
      };
      return { ...unsigned, version: 1, body: encodeBody(body), signature: new Uint8Array(64) };
    }
    return signTransaction(
      {
        version: 1,
        chainId: this.chainId,
        type: body.type,
        sender: this.key,
        nonce,
        timestamp,
        body: encodeBody(body),
      },
      this.signer,
    );
  }
}
