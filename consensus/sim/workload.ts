// Client transactions for a run: encoded, signed Vigil transactions (wire's envelope) with submission
// times drawn from the run's PRNG. Each client key signs its own nonce sequence, so every transaction is
// distinct and a duplicate commit is a real protocol fault, not a coincidence of equal bytes.

import { sha256 } from '@noble/hashes/sha2.js';
import { encodeTransaction, type Signer, signTransaction, TxType } from '../src/wire/index.ts';
import { hex } from './crypto.ts';
import type { Prng } from './prng.ts';
import type { ScenarioSpec } from './scenario.ts';

export interface WorkloadTx {
  /** Virtual time at which the client submits it (to every replica). */
  submitAt: number;
  bytes: Uint8Array;
  /** Hex SHA-256 of `bytes`: the simulator's identity for the transaction. */
  key: string;
}

export function generateWorkload(
  spec: Pick<ScenarioSpec, 'chainId' | 'workload'>,
  prng: Prng,
  signerFor: (label: string) => Signer,
): WorkloadTx[] {
  const w = spec.workload;
  const clients = Array.from({ length: Math.max(1, w.clients) }, (_, i) => signerFor(`client/${i}`));
  const nonces = clients.map(() => 0);
  const out: WorkloadTx[] = [];
  let t = w.startMs;
  for (let i = 0; i < w.txCount; i++) {
    t += prng.range(0, 2 * w.meanIntervalMs);
    if (w.quietGaps !== undefined && i > 0 && i % w.quietGaps.everyTxs === 0) t += w.quietGaps.gapMs;
    const c = prng.int(clients.length);
    const signer = clients[c]!;
    const tx = signTransaction(
      {
        version: 1,
        chainId: spec.chainId,
        type: TxType.recordObservation,
        sender: signer.publicKey,
        nonce: nonces[c]!++,
        timestamp: Math.floor(t),
        // The replica never interprets bodies; the simulation only needs distinct, well-formed ones.
        body: ['sim', i],
      },
      signer,
    );
    const bytes = encodeTransaction(tx);
    out.push({ submitAt: t, bytes, key: hex(sha256(bytes)) });
  }
  return out;
}
