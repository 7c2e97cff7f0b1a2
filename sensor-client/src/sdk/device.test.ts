import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signerFromSeed } from '@vigil/consensus/wire';
import t from 'tap';
import { makePatient, type Reading, sampleToReadings, sampleVitals } from '../sim/physiology.ts';
import { Rng } from '../sim/prng.ts';
import { FakeLedger, FakeNode } from '../testing/fake-node.ts';
import { committedReadings, tempDir, waitFor } from '../testing/helpers.ts';
import { toHex } from '../util/hex.ts';
import { Device, type DeviceConfig, type DeviceEvent } from './device.ts';

const CHAIN = 'vigil-test';
const T0 = Date.UTC(2026, 0, 1);
const rng = new Rng(2026);
const patientKey = signerFromSeed(rng.bytes(32)).publicKey;
const patient = makePatient(1, 0);

/** Reading batch i: one full set of vitals measured at T0 + i seconds. */
const batch = (i: number): Reading[] => sampleToReadings(sampleVitals(patient, T0 + i * 1000));

async function setup(t: { teardown(fn: () => unknown): void }, extra: Partial<DeviceConfig> = {}) {
  const ledger = new FakeLedger(CHAIN);
  const node = new FakeNode(ledger);
  await node.start();
  t.teardown(() => node.stop());
  const events: DeviceEvent[] = [];
  const signer = signerFromSeed(rng.bytes(32));
  const dataDir = tempDir(t);
  const cfg: DeviceConfig = {
    dataDir,
    chainId: CHAIN,
    patient: patientKey,
    signer,
    nodes: [node.url],
    backoff: { baseMs: 2, capMs: 20 },
    client: { timeoutMs: 2_000 },
    onEvent: (e) => events.push(e),
    log: () => {},
    ...extra,
  };
  const device = Device.open(cfg);
  t.teardown(() => device.close());
  return { ledger, node, device, events, cfg, signer, dataDir };
}

function runInBackground(t: { teardown(fn: () => unknown): void }, device: Device) {
  const ac = new AbortController();
  const done = device.run(ac.signal, { pollMs: 2 });
  t.teardown(async () => {
    ac.abort();
    await done.catch(() => {});
  });
  return { ac, done };
}

t.test('node outage: readings queue up, then are delivered exactly once and in order', async (t) => {
  const { ledger, node, device, events } = await setup(t);
  await node.stop();
  const { ac, done } = runInBackground(t, device);
  for (let i = 0; i < 20; i++) device.submitReadings(batch(i));
  await waitFor(
    () => events.filter((e) => e.type === 'blocked').length >= 3,
    'the device to notice the outage',
  );
  for (let i = 20; i < 40; i++) device.submitReadings(batch(i)); // still down: more readings arrive
  t.equal(ledger.committed.length, 0, 'nothing reached the ledger while the node was down');
  t.equal(device.pendingCount, 40);
  await node.start();
  await waitFor(() => device.pendingCount === 0, 'the queue to drain');
  ac.abort();
  await done;
  const expected = Array.from({ length: 40 }, (_, i) => batch(i)).flat();
  t.same(committedReadings(ledger.committed), expected, 'every reading exactly once, in measurement order');
  t.same(
    ledger.committed.map((c) => c.tx.nonce),
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
  t.equal(events.filter((e) => e.type === 'delivered').length, 40);
});

t.test('failover: with the first node down, the second one takes the readings', async (t) => {
  const { ledger, node, cfg } = await setup(t);
  const second = new FakeNode(ledger);
  await second.start();
  t.teardown(() => second.stop());
  const device = Device.open({ ...cfg, dataDir: join(cfg.dataDir, 'b'), nodes: [node.url, second.url] });
  t.teardown(() => device.close());
  await node.stop();
  for (let i = 0; i < 5; i++) device.submitReadings(batch(i));
  let outcome = await device.flushOnce();
  while (outcome !== 'idle') outcome = await device.flushOnce();
  t.equal(device.client.currentNode, second.url);
  t.same(committedReadings(ledger.committed), [0, 1, 2, 3, 4].flatMap(batch));
});

t.test('restart: a reopened device resends its queue; the node dedups by id, nothing is lost', async (t) => {
  const { ledger, cfg, device } = await setup(t, { confirm: 'committed' });
  ledger.commitMode = 'manual';
  for (let i = 0; i < 6; i++) device.submitReadings(batch(i));
  t.equal(await device.flushOnce(), 'waiting', 'accepted into the mempool, not yet committed');
  ledger.commitPending();
  device.close(); // "crash" before it learnt of the commit
  const again = Device.open(cfg);
  t.teardown(() => again.close());
  t.equal(again.pendingCount, 6, 'the queue survived the restart');
  t.equal(again.lastAssignedNonce, 6, 'and so did the nonce');
  ledger.commitMode = 'immediate';
  while ((await again.flushOnce()) !== 'idle') {}
  t.equal(ledger.submissions, 12, 'all six were resent once...');
  t.same(committedReadings(ledger.committed), [0, 1, 2, 3, 4, 5].flatMap(batch), '...and committed once');
  again.submitReadings(batch(6));
  while ((await again.flushOnce()) !== 'idle') {}
  t.equal(ledger.committed.at(-1)!.tx.nonce, 7, 'new readings continue the nonce sequence');
});

t.test('a node that loses its mempool: accepted transactions are resent until committed', async (t) => {
  const { ledger, device } = await setup(t, { resendAfterMs: 0 });
  ledger.commitMode = 'manual';
  for (let i = 0; i < 3; i++) device.submitReadings(batch(i));
  t.equal(await device.flushOnce(), 'waiting');
  ledger.dropPending(); // node restart: mempool gone, status now 'unknown'
  t.equal(await device.flushOnce(), 'waiting', 'resent');
  ledger.commitPending();
  while ((await device.flushOnce()) !== 'idle') {}
  t.same(committedReadings(ledger.committed), [0, 1, 2].flatMap(batch));
});

t.test('NONCE_TOO_LOW: resync from the account, re-sign, deliver once', async (t) => {
  const { ledger, device, signer, events } = await setup(t);
  for (let i = 0; i < 4; i++) device.submitReadings(batch(i));
  ledger.forceNonce(toHex(signer.publicKey), 10); // the key was used elsewhere (e.g. a restored backup)
  while ((await device.flushOnce()) !== 'idle') {}
  t.same(
    ledger.committed.map((c) => c.tx.nonce),
    [11, 12, 13, 14],
  );
  t.same(committedReadings(ledger.committed), [0, 1, 2, 3].flatMap(batch));
  t.ok(events.some((e) => e.type === 'resigned' && e.reason === 'NONCE_TOO_LOW' && e.count === 4));
  t.equal(device.lastAssignedNonce, 14);
});

t.test('NONCE_TOO_LOW because an earlier version already committed: delivered, not re-signed', async (t) => {
  const { ledger, device, events } = await setup(t);
  ledger.commitMode = 'manual';
  device.submitReadings(batch(0));
  device.submitReadings(batch(1));
  t.equal(await device.flushOnce(), 'waiting');
  ledger.commitPending();
  // The node forgets both ids (e.g. it answers from a pruned index) but the nonces are consumed.
  ledger.refuseNext = { code: 'NONCE_TOO_LOW', count: 1 };
  while ((await device.flushOnce()) !== 'idle') {}
  t.same(committedReadings(ledger.committed), [0, 1].flatMap(batch));
  t.notOk(events.some((e) => e.type === 'resigned'));
});

t.test(
  'fallback: a node refusing a stale timestamp (narrower window than assumed) gets a re-signed tx',
  async (t) => {
    let now = T0 + 10_000;
    // resignAfterMs far above the node's window, so only the reactive path can save the transaction.
    const { ledger, device, events } = await setup(t, { now: () => now, resignAfterMs: 86_400_000 });
    device.submitReadings(batch(0));
    now += 2 * 3_600_000; // two hours in the queue
    ledger.refuseNext = { code: 'TIMESTAMP_OUT_OF_WINDOW', count: 1 };
    while ((await device.flushOnce()) !== 'idle') {}
    t.equal(ledger.committed.length, 1);
    t.equal(ledger.committed[0]!.tx.timestamp, now, 'new timestamp');
    t.equal(ledger.committed[0]!.tx.nonce, 1, 'same nonce: at most one version can ever commit');
    t.same(committedReadings(ledger.committed), batch(0), 'measurement times unchanged');
    t.ok(events.some((e) => e.type === 'resigned' && e.reason === 'TIMESTAMP_OUT_OF_WINDOW'));
  },
);

t.test('a permanently rejected transaction goes to the dead-letter file; the rest follow', async (t) => {
  const { ledger, device, dataDir, events } = await setup(t);
  for (let i = 0; i < 3; i++) device.submitReadings(batch(i));
  ledger.refuseNext = { code: 'UNAUTHORIZED', count: 1 };
  while ((await device.flushOnce()) !== 'idle') {}
  t.same(committedReadings(ledger.committed), [1, 2].flatMap(batch));
  t.same(
    ledger.committed.map((c) => c.tx.nonce),
    [1, 2],
    'no nonce gap',
  );
  const dead = readFileSync(join(dataDir, 'deadletter.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.equal(dead.length, 1);
  t.equal(dead[0].code, 'UNAUTHORIZED');
  t.ok(events.some((e) => e.type === 'deadLetter'));
});

t.test('queue full: the new batch is refused with QUEUE_FULL and consumes no nonce', async (t) => {
  const { ledger, device, events, node } = await setup(t, { queue: { maxEntries: 3 } });
  await node.stop();
  for (let i = 0; i < 3; i++) device.submitReadings(batch(i));
  t.throws(() => device.submitReadings(batch(3)), { code: 'QUEUE_FULL' });
  t.ok(events.some((e) => e.type === 'queueFull'));
  await node.start();
  while ((await device.flushOnce()) !== 'idle') {}
  device.submitReadings(batch(4));
  while ((await device.flushOnce()) !== 'idle') {}
  t.same(
    ledger.committed.map((c) => c.tx.nonce),
    [1, 2, 3, 4],
  );
  t.same(committedReadings(ledger.committed), [0, 1, 2, 4].flatMap(batch));
  t.notOk(existsSync(join(device.client.currentNode, 'nothing')));
});

t.test('transient refusals (MEMPOOL_FULL) are retried, not dead-lettered', async (t) => {
  const { ledger, device } = await setup(t);
  device.submitReadings(batch(0));
  ledger.refuseNext = { code: 'MEMPOOL_FULL', count: 2 };
  t.equal(await device.flushOnce(), 'blocked');
  while ((await device.flushOnce()) !== 'idle') {}
  t.same(committedReadings(ledger.committed), batch(0));
});

t.test('clock skew beyond what nodes accept raises an event and a log line', async (t) => {
  const logs: string[] = [];
  const { ledger, device, events } = await setup(t, { log: (m) => logs.push(m) });
  ledger.clock = () => Date.now() - 120_000; // the device is two minutes ahead of the node
  const est = await device.checkClock();
  t.ok(est.skewMs > 100_000);
  const ev = events.find((e) => e.type === 'clockSkew');
  t.ok(ev && ev.type === 'clockSkew' && ev.acceptedSkewMs === 30_000);
  // (logs[0] is the start-up warning that no validator set is configured.)
  t.match(logs.at(-1), /device clock is \d+ ms off/);
  ledger.clock = Date.now;
  events.length = 0;
  await device.checkClock();
  t.notOk(
    events.some((e) => e.type === 'clockSkew'),
    'no warning when in sync',
  );
});

t.test('a node on another chain is refused', async (t) => {
  const { device, cfg } = await setup(t);
  const other = Device.open({ ...cfg, dataDir: join(cfg.dataDir, 'x'), chainId: 'other-chain' });
  t.teardown(() => other.close());
  await t.rejects(other.checkClock(), { code: 'CHAIN_MISMATCH' });
  t.ok(device);
});

t.test(
  'after a long outage, stale transactions are re-signed with the same nonce before sending',
  async (t) => {
    let now = T0;
    const { ledger, device, events, node } = await setup(t, { now: () => now });
    await node.stop();
    for (let i = 0; i < 3; i++) device.submitReadings(batch(i));
    t.equal(await device.flushOnce(), 'blocked');
    now += 30 * 60_000; // a 30-minute outage: the node would refuse the old timestamps
    t.equal(await device.flushOnce(), 'blocked');
    t.notOk(
      events.some((e) => e.type === 'resigned'),
      'nothing is re-signed while no node answers (versions would pile up)',
    );
    await node.start();
    while ((await device.flushOnce()) !== 'idle') {}
    t.same(
      ledger.committed.map((c) => [c.tx.nonce, c.tx.timestamp]),
      [
        [1, now],
        [2, now],
        [3, now],
      ],
    );
    t.same(
      committedReadings(ledger.committed),
      [0, 1, 2].flatMap(batch),
      'measurement times are the original ones',
    );
    t.equal(events.filter((e) => e.type === 'resigned' && e.reason === 'STALE_TIMESTAMP').length, 3);
  },
);

t.test('a stale entry whose old version already committed is delivered once, not twice', async (t) => {
  let now = T0;
  const { ledger, device, cfg } = await setup(t, { now: () => now, confirm: 'committed' });
  ledger.commitMode = 'manual';
  device.submitReadings(batch(0));
  device.submitReadings(batch(1));
  t.equal(await device.flushOnce(), 'waiting');
  ledger.commitPending(); // committed, but the device crashes before it learns so
  device.close();
  now += 30 * 60_000;
  const again = Device.open({ ...cfg, now: () => now });
  t.teardown(() => again.close());
  ledger.commitMode = 'immediate';
  while ((await again.flushOnce()) !== 'idle') {}
  t.equal(ledger.committed.length, 2, 're-signed versions were refused (nonce consumed)');
  t.same(committedReadings(ledger.committed), [0, 1].flatMap(batch));
  t.equal(again.pendingCount, 0, 'and the entries were recognised as delivered through their old ids');
});

t.test(
  'ACCOUNT_LIMIT inside a batch (429) is not a permanent rejection: nothing is dead-lettered',
  async (t) => {
    // The node answers a CBOR sequence 202 with a per-transaction status; ACCOUNT_LIMIT is 429 (too many
    // pending for this sender, or a nonce too far ahead of a node that lags behind the chain).
    const { ledger, device, dataDir, events } = await setup(t);
    for (let i = 0; i < 3; i++) device.submitReadings(batch(i));
    ledger.refuseNext = { code: 'ACCOUNT_LIMIT', count: 1 };
    while ((await device.flushOnce()) !== 'idle') {}
    t.notOk(existsSync(join(dataDir, 'deadletter.jsonl')), 'no dead letter');
    t.notOk(events.some((e) => e.type === 'deadLetter'));
    t.same(committedReadings(ledger.committed), [0, 1, 2].flatMap(batch), 'every reading, in order');
    t.same(
      ledger.committed.map((c) => c.tx.nonce),
      [1, 2, 3],
    );
  },
);

t.test('a rate-limited node: the device waits for its Retry-After before trying again', async (t) => {
  const requests: string[] = [];
  const fetchFn = (async (url: string) => {
    requests.push(url);
    return new Response(JSON.stringify({ code: 'RATE_LIMITED', title: 'slow down', status: 429 }), {
      status: 429,
      headers: { 'content-type': 'application/problem+json', 'retry-after': '30' },
    });
  }) as unknown as typeof fetch;
  const { device, events } = await setup(t, {
    client: { fetch: fetchFn },
    backoff: { baseMs: 1, capMs: 5 },
  });
  device.submitReadings(batch(0));
  const { ac, done } = runInBackground(t, device);
  await waitFor(() => events.some((e) => e.type === 'blocked'), 'the device to be blocked');
  await new Promise((r) => setTimeout(r, 100));
  ac.abort();
  await done;
  const blocked = events.filter((e) => e.type === 'blocked');
  t.equal(blocked.length, 1, 'one wait, not a burst of 1-5 ms retries');
  t.ok(blocked[0]!.type === 'blocked' && blocked[0]!.retryInMs >= 29_000, 'about the 30 s asked for');
  t.ok(requests.length <= 2, `no request inside the Retry-After (${requests.length})`);
});

t.test('readings older than ones already queued are refused at once, also after a restart', async (t) => {
  // The chain rejects a batch holding a time not after the device's last for that kind; the device
  // knows its own last times, so it refuses there and then instead of losing the whole batch later.
  const { ledger, device, cfg, dataDir } = await setup(t);
  device.submitReadings(batch(5));
  t.throws(() => device.submitReadings(batch(4)), { code: 'READING_NOT_INCREASING' });
  t.throws(() => device.submitReadings(batch(5)), { code: 'READING_NOT_INCREASING' }, 'same times again');
  t.equal(device.pendingCount, 1, 'nothing queued');
  t.equal(device.lastAssignedNonce, 1, 'no nonce consumed');
  while ((await device.flushOnce()) !== 'idle') {}
  device.close();
  const again = Device.open(cfg);
  t.teardown(() => again.close());
  t.equal(again.pendingCount, 0, 'the queue is empty: the last times must come from the store');
  t.throws(() => again.submitReadings(batch(3)), { code: 'READING_NOT_INCREASING' });
  again.submitReadings(batch(6));
  while ((await again.flushOnce()) !== 'idle') {}
  t.same(committedReadings(ledger.committed), [5, 6].flatMap(batch));
  t.notOk(existsSync(join(dataDir, 'deadletter.jsonl')));
});

t.test('key rotation: a device reopened with its new key starts that key at nonce 1', async (t) => {
  // Nonces are per sender. Reusing the old key's count for the new key left its first transaction
  // waiting behind a nonce gap no one would fill (or refused ACCOUNT_LIMIT more than 256 ahead).
  const { ledger, device, cfg } = await setup(t);
  for (let i = 0; i < 3; i++) device.submitReadings(batch(i));
  while ((await device.flushOnce()) !== 'idle') {}
  device.close();
  const newKey = signerFromSeed(rng.bytes(32));
  const rotated = Device.open({ ...cfg, signer: newKey });
  t.teardown(() => rotated.close());
  t.equal(rotated.lastAssignedNonce, 0, 'the old key nonce is not the new key nonce');
  t.throws(() => rotated.submitReadings(batch(2)), { code: 'READING_NOT_INCREASING' }, 'times carry over');
  rotated.submitReadings(batch(3));
  while ((await rotated.flushOnce()) !== 'idle') {}
  const last = ledger.committed.at(-1)!;
  t.equal(toHex(last.tx.sender), toHex(newKey.publicKey));
  t.equal(last.tx.nonce, 1);
  t.same(committedReadings(ledger.committed), [0, 1, 2, 3].flatMap(batch));
  rotated.close();
  const again = Device.open({ ...cfg, signer: newKey });
  t.teardown(() => again.close());
  t.equal(again.lastAssignedNonce, 1, 'and the new key count persists');
});

t.test(
  'key rotation with the old key batches still queued: they commit before the new key sends',
  async (t) => {
    const { ledger, device, cfg, node } = await setup(t);
    await node.stop();
    for (let i = 0; i < 2; i++) device.submitReadings(batch(i));
    device.close();
    const newKey = signerFromSeed(rng.bytes(32));
    const rotated = Device.open({ ...cfg, signer: newKey });
    t.teardown(() => rotated.close());
    rotated.submitReadings(batch(2));
    await node.start();
    ledger.commitMode = 'manual';
    t.equal(await rotated.flushOnce(), 'waiting');
    t.equal(ledger.mempoolSize, 2, 'only the old key batches were sent: blocks order senders freely');
    ledger.commitPending();
    ledger.commitMode = 'immediate';
    while ((await rotated.flushOnce()) !== 'idle') {}
    t.same(committedReadings(ledger.committed), [0, 1, 2].flatMap(batch), 'in measurement order');
    t.same(
      ledger.committed.map((c) => [toHex(c.tx.sender) === toHex(newKey.publicKey), c.tx.nonce]),
      [
        [false, 1],
        [false, 2],
        [true, 1],
      ],
    );
  },
);
