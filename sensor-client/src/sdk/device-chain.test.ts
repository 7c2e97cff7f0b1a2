// A device's data directory belongs to one chain (chain-binding.ts): opened against another chain,
// including one with the same chain id and another genesis, it is refused with a typed error instead of
// resending that chain's queue and stalling on its nonces without a word.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signerFromSeed } from '@vigil/consensus/wire';
import t from 'tap';
import { makePatient, type Reading, sampleToReadings, sampleVitals } from '../sim/physiology.ts';
import { Rng } from '../sim/prng.ts';
import { FakeLedger, FakeNode } from '../testing/fake-node.ts';
import { tempDir, waitFor } from '../testing/helpers.ts';
import { CHAIN_FILE, readChainRecord } from './chain-binding.ts';
import { Device, type DeviceConfig, type DeviceEvent } from './device.ts';
import { SdkError } from './errors.ts';

// Both chains are called the same, as every `vigil genesis` and `npm start` network is vigil-devnet.
const CHAIN = 'vigil-devnet';
const T0 = Date.UTC(2026, 0, 1);
const rng = new Rng(4242);
const patientKey = signerFromSeed(rng.bytes(32)).publicKey;
const patient = makePatient(3, 0);
const batch = (i: number): Reading[] => sampleToReadings(sampleVitals(patient, T0 + i * 1000));

type Teardown = { teardown(fn: () => unknown): void };

/** A chain of its own: a ledger (own genesis hash unless given) behind a fake node. */
async function chain(t: Teardown, genesisHash?: string | null) {
  const ledger = new FakeLedger(CHAIN, genesisHash === undefined ? {} : { genesisHash });
  // Like a real mempool: a nonce ahead of the account is held, not refused, so a device whose nonces
  // belong to another chain would wait on it forever.
  ledger.parkFutureNonces = true;
  const node = new FakeNode(ledger);
  await node.start();
  t.teardown(() => node.stop());
  return { ledger, node };
}

function opener(t: Teardown, dataDir: string) {
  const signer = signerFromSeed(rng.bytes(32));
  const events: DeviceEvent[] = [];
  const open = (node: FakeNode, extra: Partial<DeviceConfig> = {}) => {
    const d = Device.open({
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
    });
    t.teardown(() => d.close());
    return d;
  };
  return { open, events, signer };
}

/** Runs `device` until its queue is empty. */
async function drain(device: Device): Promise<void> {
  const ac = new AbortController();
  const done = device.run(ac.signal, { pollMs: 2 });
  await waitFor(() => device.pendingCount === 0, 'the queue to drain');
  ac.abort();
  await done;
}

/** Delivers 3 batches on chain `a`, then queues 2 more without sending them; closes the device. */
async function usedOn(a: { node: FakeNode }, open: ReturnType<typeof opener>['open']): Promise<void> {
  const d = open(a.node);
  for (let i = 0; i < 3; i++) d.submitReadings(batch(i));
  await drain(d);
  d.submitReadings(batch(3));
  d.submitReadings(batch(4));
  d.close();
}

t.test(
  'a new data directory records its chain: the id at once, the genesis hash at first contact',
  async (t) => {
    const a = await chain(t);
    const dir = tempDir(t);
    const { open } = opener(t, dir);
    const d = open(a.node);
    t.same(readChainRecord(dir), { chainId: CHAIN }, 'chain id recorded at open, before any node answered');
    d.submitReadings(batch(0));
    await drain(d);
    t.same(readChainRecord(dir), { chainId: CHAIN, genesisHash: a.ledger.genesisHash });
    t.equal(a.ledger.committed.length, 1);
  },
);

t.test('same chain id, another genesis: refused with DATA_DIR_OTHER_CHAIN, nothing sent', async (t) => {
  const a = await chain(t);
  const b = await chain(t);
  const dir = tempDir(t);
  const { open, events } = opener(t, dir);
  await usedOn(a, open);

  const d = open(b.node);
  t.equal(d.pendingCount, 2, 'the old chain queue is kept on disk');
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  let err: unknown;
  d.run(ac.signal, { pollMs: 2 }).catch((e: unknown) => {
    err = e;
  });
  // Before the fix the loop never ended: it waited on nonces chain B never saw (or was `blocked`).
  await waitFor(
    () => err !== undefined || events.filter((e) => e.type === 'blocked').length >= 5,
    'run to end',
  );
  t.ok(err instanceof SdkError, 'run ends with an error instead of blocking forever');
  t.equal((err as SdkError).code, 'DATA_DIR_OTHER_CHAIN');
  const msg = (err as SdkError).message;
  t.match(msg, dir, 'names the directory');
  t.match(msg, a.ledger.genesisHash!.slice(0, 16), "names the directory's chain");
  t.match(msg, b.ledger.genesisHash!.slice(0, 16), "names the node's chain");
  t.match(msg, /new data directory|move .* away/, 'says what to do');
  t.equal(b.ledger.submissions, 0, "nothing of chain A's queue reached chain B");
  t.equal(d.pendingCount, 2, 'and nothing was dropped');
  t.same(readChainRecord(dir)?.genesisHash, a.ledger.genesisHash, 'the record is unchanged');

  // The same with flushOnce (a caller driving the device itself), and with an empty queue: the nonces
  // are still chain A's.
  await t.rejects(d.flushOnce(), { code: 'DATA_DIR_OTHER_CHAIN' });
});

t.test('another chain id in the record: Device.open refuses, the directory untouched', async (t) => {
  const a = await chain(t);
  const dir = tempDir(t);
  const { open } = opener(t, dir);
  await usedOn(a, open);
  const queue = readFileSync(join(dir, 'queue.log'));
  const nonce = readFileSync(join(dir, 'nonce.json'));
  t.throws(() => open(a.node, { chainId: 'vigil-other' }), { code: 'DATA_DIR_OTHER_CHAIN' });
  t.throws(() => open(a.node, { genesisHash: 'ab'.repeat(32) }), {
    code: 'DATA_DIR_OTHER_CHAIN',
    message: /configured for/,
  });
  t.same(readFileSync(join(dir, 'queue.log')), queue);
  t.same(readFileSync(join(dir, 'nonce.json')), nonce);
});

t.test(
  'a provisioned genesis hash: recorded at open; a node serving another is CHAIN_MISMATCH',
  async (t) => {
    const a = await chain(t);
    const b = await chain(t);
    const dir = tempDir(t);
    const { open } = opener(t, dir);
    const d = open(b.node, { genesisHash: a.ledger.genesisHash! });
    t.same(readChainRecord(dir), { chainId: CHAIN, genesisHash: a.ledger.genesisHash });
    d.submitReadings(batch(0));
    await t.rejects(d.flushOnce(), { code: 'CHAIN_MISMATCH' });
    t.equal(b.ledger.submissions, 0);
    t.throws(() => open(a.node, { genesisHash: 'A'.repeat(64) }), { code: 'USAGE' });
  },
);

t.test('a node that serves no genesis hash: bound by chain id, delivers', async (t) => {
  const old = await chain(t, null);
  const dir = tempDir(t);
  const { open } = opener(t, dir);
  const d = open(old.node);
  d.submitReadings(batch(0));
  await drain(d);
  t.same(readChainRecord(dir), { chainId: CHAIN });
  t.equal(old.ledger.committed.length, 1);
});

t.test('from before binding, queue empty: adopted, and its nonce restarts for this chain', async (t) => {
  const a = await chain(t);
  const b = await chain(t);
  const dir = tempDir(t);
  const { open, events } = opener(t, dir);
  const d = open(a.node);
  for (let i = 0; i < 3; i++) d.submitReadings(batch(i));
  await drain(d);
  d.close();
  rmSync(join(dir, CHAIN_FILE)); // as a directory written before chain binding

  const e = open(b.node);
  t.same(readChainRecord(dir), { chainId: CHAIN }, 'adopted at open');
  e.submitReadings(batch(3));
  await drain(e);
  t.same(
    b.ledger.committed.map((c) => c.tx.nonce),
    [1],
    "chain B's first transaction, not nonce 4 held behind a gap",
  );
  t.same(readChainRecord(dir), { chainId: CHAIN, genesisHash: b.ledger.genesisHash });
  t.notOk(
    events.some((x) => x.type === 'deadLetter'),
    'nothing dead-lettered',
  );

  // On its own chain, the restarted nonce is repaired from the account (NONCE_TOO_LOW, re-sign).
  const dir2 = tempDir(t);
  const o2 = opener(t, dir2);
  const f = o2.open(a.node);
  f.submitReadings(batch(0));
  await drain(f);
  f.close();
  rmSync(join(dir2, CHAIN_FILE));
  const g = o2.open(a.node);
  g.submitReadings(batch(1));
  await drain(g);
  t.same(
    a.ledger.committed.slice(-2).map((c) => c.tx.nonce),
    [1, 2],
    'same chain: continues after the committed nonce',
  );
});

t.test(
  'from before binding, readings queued for another chain: DATA_DIR_UNBOUND, nothing sent',
  async (t) => {
    const a = await chain(t);
    const b = await chain(t);
    const dir = tempDir(t);
    const { open } = opener(t, dir);
    await usedOn(a, open);
    rmSync(join(dir, CHAIN_FILE));
    const d = open(b.node);
    await t.rejects(d.flushOnce(), { code: 'DATA_DIR_UNBOUND', message: new RegExp(dir) });
    t.equal(b.ledger.submissions, 0);
    t.equal(d.pendingCount, 2, 'the readings stay on disk');
    t.equal(readChainRecord(dir), undefined, 'and the directory stays unbound');
    d.close();

    // The operator's way out when they are this chain's after all: write the record the message gives.
    writeFileSync(
      join(dir, CHAIN_FILE),
      JSON.stringify({ chainId: CHAIN, genesisHash: a.ledger.genesisHash }),
    );
    await drain(open(a.node));
    t.equal(a.ledger.committed.length, 5, 'delivered on their own chain');
  },
);

t.test('from before binding, readings queued for this chain: adopted on evidence, delivered', async (t) => {
  // Evidence 1: the head continues the account's committed nonce (its node lost the mempool).
  const a = await chain(t);
  const dir = tempDir(t);
  const { open } = opener(t, dir);
  await usedOn(a, open);
  rmSync(join(dir, CHAIN_FILE));
  await drain(open(a.node));
  t.same(
    a.ledger.committed.map((c) => c.tx.nonce),
    [1, 2, 3, 4, 5],
  );
  t.same(readChainRecord(dir), { chainId: CHAIN, genesisHash: a.ledger.genesisHash });

  // Evidence 2: the chain knows the head (pending in its mempool), though the account is at 0.
  const c = await chain(t);
  c.ledger.commitMode = 'manual';
  const dir2 = tempDir(t);
  const o2 = opener(t, dir2);
  const f = o2.open(c.node);
  f.submitReadings(batch(0));
  await f.flushOnce(); // sent, not committed
  t.equal(c.ledger.mempoolSize, 1);
  f.close();
  rmSync(join(dir2, CHAIN_FILE));
  const g = o2.open(c.node);
  t.equal(await g.flushOnce(), 'waiting', 'adopted: the chain holds its transaction');
  c.ledger.commitPending();
  await drain(g);
  t.equal(c.ledger.committed.length, 1);
});

t.test('a damaged chain.json is a typed error', async (t) => {
  const a = await chain(t);
  const dir = tempDir(t);
  const { open } = opener(t, dir);
  writeFileSync(join(dir, CHAIN_FILE), '{"chainId": 7}');
  t.throws(() => open(a.node), { code: 'CHAIN_FILE_INVALID' });
});
