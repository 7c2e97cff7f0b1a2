// Kill the device process (SIGKILL: no cleanup, no flush) while its queue is full of undelivered
// readings, and again while it is delivering them; restart it each time. The fake node dedups by tx id
// as the real node will. Every reading the device acknowledged must reach the ledger exactly once, in
// order; the only readings allowed beyond those are the one batch per kill that may have been fsynced
// just before the kill but not yet acknowledged to the caller.

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { signerFromSeed } from '@vigil/consensus/wire';
import t from 'tap';
import { Rng } from '../sim/prng.ts';
import { FakeLedger, FakeNode } from '../testing/fake-node.ts';
import { CHILD_T0, committedReadings, tempDir, waitFor } from '../testing/helpers.ts';
import { toHex } from '../util/hex.ts';

const CHILD = fileURLToPath(new URL('../testing/device-child.ts', import.meta.url));
const CHAIN = 'vigil-crash';

interface Child {
  proc: ChildProcess;
  queued: number[];
  drained: boolean;
  exited: Promise<void>;
}

function startChild(args: string[]): Child {
  const proc = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const c: Child = {
    proc,
    queued: [],
    drained: false,
    exited: new Promise((r) => proc.on('exit', () => r())),
  };
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.startsWith('queued ')) c.queued.push(Number(line.slice(7)));
      if (line === 'drained') c.drained = true;
      nl = buf.indexOf('\n');
    }
  });
  return c;
}

t.test('SIGKILL mid-queue and mid-delivery loses nothing and duplicates nothing', async (t) => {
  const ledger = new FakeLedger(CHAIN);
  const node = new FakeNode(ledger);
  await node.start();
  t.teardown(() => node.stop());
  const dataDir = tempDir(t, 'vigil-crash-');
  const patient = toHex(signerFromSeed(new Rng(5).bytes(32)).publicKey);
  const args = (start: number, count: number, interval: number) => [
    dataDir,
    node.url,
    CHAIN,
    patient,
    String(start),
    String(count),
    String(interval),
  ];
  const acknowledged: number[] = [];
  const mayBeInFlight: number[] = [];

  // 1. Node down: the device queues readings it cannot send; kill it.
  await node.stop();
  const a = startChild(args(0, 10_000, 2));
  await waitFor(() => a.queued.length >= 40, 'the first child to queue 40 batches', 60_000);
  a.proc.kill('SIGKILL');
  await a.exited;
  acknowledged.push(...a.queued);
  mayBeInFlight.push(a.queued.at(-1)! + 1);
  t.equal(ledger.committed.length, 0);

  // 2. Node back: the restarted device delivers its backlog while producing more; kill it mid-delivery.
  await node.start();
  const bStart = a.queued.at(-1)! + 2;
  const b = startChild(args(bStart, 10_000, 3));
  await waitFor(
    () => ledger.committed.length >= 20 && b.queued.length >= 30,
    'delivery to be under way',
    60_000,
  );
  b.proc.kill('SIGKILL');
  await b.exited;
  acknowledged.push(...b.queued);
  mayBeInFlight.push(b.queued.at(-1)! + 1);

  // 3. A last run: the backlog and 10 more batches drain, then the child exits by itself.
  const cStart = b.queued.at(-1)! + 2;
  const c = startChild(args(cStart, 10, 1));
  await c.exited;
  t.ok(c.drained, 'the third child drained its queue');
  acknowledged.push(...c.queued);

  // Delivered batches, identified by measurement time, in commit order.
  const delivered = committedReadings(ledger.committed)
    .filter((r) => r.kind === 1)
    .map((r) => (r.measuredAt - CHILD_T0) / 1000);
  const sorted = [...delivered].sort((x, y) => x - y);
  t.same(delivered, sorted, 'delivered in measurement order');
  t.equal(new Set(delivered).size, delivered.length, 'no batch delivered twice');
  const deliveredSet = new Set(delivered);
  const lost = acknowledged.filter((i) => !deliveredSet.has(i));
  t.same(lost, [], 'every acknowledged batch was delivered');
  const ackSet = new Set(acknowledged);
  const extra = delivered.filter((i) => !ackSet.has(i));
  t.ok(
    extra.every((i) => mayBeInFlight.includes(i)),
    `extra batches ${JSON.stringify(extra)} are only ones in flight at a kill`,
  );
  t.ok(acknowledged.length >= 80, `${acknowledged.length} batches acknowledged`);
  // Nonces on the ledger are exactly 1..n: no gaps, no reuse across restarts.
  t.same(
    ledger.committed.map((x) => x.tx.nonce),
    ledger.committed.map((_, i) => i + 1),
  );
});
