// Worker for the raw-rate measurement of node-exec.ts: verifies one packed batch `rounds` times with
// the node:crypto fast verifier and reports how many verifications it did. No messaging in the loop:
// this is the machine's ceiling that the executor's pipeline is compared with.
//
// One untimed pass runs before the worker says it is ready. The verifier builds a KeyObject (an ASN.1
// parse) the first time it sees a public key and caches it; a validator verifying its devices' traffic
// always hits that cache. Without the pass the first of the 4 timed rounds paid one parse per key (a
// cold round took ~120 ms per 1,000 verifications against ~85 warm here), and the ceiling read ~10 % low.
import { parentPort, workerData } from 'node:worker_threads';
import { fastVerifier } from '@vigil/node/crypto/fast-verifier.ts';
import { unpackChecks } from '@vigil/node/verify-pool/packing.ts';

const { buffer, rounds } = workerData as { buffer: ArrayBuffer; rounds: number };
const checks = unpackChecks(buffer);
for (const c of checks) fastVerifier.verify(c.signature, c.message, c.publicKey);
const keysCachedAtStart = fastVerifier.cachedKeys;
let ok = 0;
parentPort!.once('message', () => {
  const cpu = process.threadCpuUsage();
  for (let r = 0; r < rounds; r++) {
    for (const c of checks) if (fastVerifier.verify(c.signature, c.message, c.publicKey)) ok++;
  }
  const used = process.threadCpuUsage(cpu);
  parentPort!.postMessage({
    verified: rounds * checks.length,
    ok,
    cpuUs: used.user + used.system,
    keysCachedAtStart,
  });
});
parentPort!.postMessage('ready');
