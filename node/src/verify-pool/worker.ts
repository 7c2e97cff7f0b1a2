// A verification worker: receives packed batches (packing.ts), verifies each signature with the
// node:crypto fast verifier (same acceptance rule as the reference, ADR 0005), answers one byte per check.
import { parentPort } from 'node:worker_threads';
import { fastVerifier } from '../crypto/fast-verifier.ts';
import { unpackChecks } from './packing.ts';

export interface VerifyRequest {
  id: number;
  buffer: ArrayBuffer;
}

export interface VerifyResponse {
  id: number;
  results: Uint8Array;
}

/** Sent once the worker listens: the pool's stall watchdog starts counting only then. */
export interface WorkerReady {
  ready: true;
}

if (parentPort === null) throw new Error('verify-pool worker must run in a worker thread');
const port = parentPort;

port.on('message', (req: VerifyRequest) => {
  const checks = unpackChecks(req.buffer);
  const results = new Uint8Array(checks.length);
  for (let i = 0; i < checks.length; i++) {
    const c = checks[i]!;
    results[i] = fastVerifier.verify(c.signature, c.message, c.publicKey) ? 1 : 0;
  }
  const res: VerifyResponse = { id: req.id, results };
  port.postMessage(res, [results.buffer]);
});
port.postMessage({ ready: true } satisfies WorkerReady);
