// A verification worker for pool.test.ts that misbehaves on purpose: a worker that starts while the
// marker file named in its workerData exists answers every request wrongly or not at all. It removes
// the marker (unless `always`), so the workers started after it are real ones.
import { existsSync, rmSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

export interface MisbehaviourSpec {
  marker: string;
  /** crash: throw (the thread dies of an uncaught exception); hang: never answer; short: answer one byte too few. */
  mode: 'crash' | 'hang' | 'short';
  /** Keep the marker, so that every worker misbehaves (a fault the pool cannot retry its way out of). */
  always?: boolean;
}

const spec = workerData as MisbehaviourSpec;
const port = parentPort!;
if (existsSync(spec.marker)) {
  if (spec.always !== true) rmSync(spec.marker);
  port.on('message', (req: { id: number; buffer: ArrayBuffer }) => {
    if (spec.mode === 'crash') throw new Error('verification worker crashed (test)');
    if (spec.mode === 'short') {
      const count = new DataView(req.buffer).getUint32(0);
      port.postMessage({ id: req.id, results: new Uint8Array(count - 1).fill(1) });
    }
    // hang: the request is dropped; the thread stays alive (it listens) and never answers.
  });
  port.postMessage({ ready: true });
} else {
  await import('./worker.ts');
}
