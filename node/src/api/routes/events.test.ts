// The event stream's bound on a subscriber that does not keep up, over real sockets against a stand-in
// validator (an EventEmitter of applied blocks): the node, not the client, decides when it is dropped,
// and a dropped subscriber's connection and buffered output are gone, not merely its slot. And a signed
// subscriber that comes back with Last-Event-ID is sent the alerts raised while it was away, from the
// alert index (ADR 0130: an in-memory index here, written as the executor writes it), also by a node
// started afresh over the same index, with a `gap` event only for what the index cannot serve; a block's
// alerts precede the next block's event.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { type CborValue, signerFromSeed, toHex } from '@vigil/consensus/wire';
import Fastify from 'fastify';
import t, { type Test } from 'tap';
import { IndexKeys, Keys } from '../../state-machine/index.ts';
import { Codec, encodeIndexValue, encodeRecordValue } from '../../state-machine/records.ts';
import { MemoryKv } from '../../state-machine/testing/memory-kv.ts';
import { eventually } from '../../testing/ports.ts';
import type { ApiContext } from '../context.ts';
import { problemSchema } from '../problem.ts';
import { ReplayGuard } from '../signed-request.ts';
import { signRequest } from '../signed-request-client.ts';
import { MAX_BUFFERED_BYTES, registerEventRoutes } from './events.ts';

const TX_ID = new Uint8Array(32);
/** Most bytes of the stream an event of a block of `txs` transactions takes. */
const eventBytes = (txs: number) => 67 * txs + 256;
/** An applied block whose event lists `txs` transaction ids (about 67 bytes each in the stream). */
const block = (
  height: number,
  txs: number,
  events: { txId: Uint8Array; event: { kind: string; data: unknown[] } }[] = [],
) => ({
  height,
  blockHash: new Uint8Array(32),
  result: { events, receipts: Array.from({ length: txs }, () => ({ txId: TX_ID })) },
});
/** A patient, registered in the stand-in state, who subscribes to their own alerts. */
const PATIENT = signerFromSeed(new Uint8Array(32).fill(7));
const PATIENT_RECORD = encodeRecordValue(
  Codec.patient.enc({ registeredBy: null, since: 0, guardians: [], researchOptIn: false }),
);
/** An alert event; `pad` makes it about that many bytes larger (a long list of missing parameters). */
const alertRaised = (seq: number, pad = 0) => ({
  txId: TX_ID,
  event: {
    kind: 'alertRaised',
    data: [PATIENT.publicKey, seq, 'threshold', 6, 30, null, null, pad > 0 ? ['x'.repeat(pad)] : [], 0],
  },
});

/**
 * A node over `chain` (its alert index and head, shared by the nodes a test starts: a restart is a new
 * node over the same chain). `apply` commits a block as the executor does, its alerts in the index
 * first, then announces it.
 */
interface Chain {
  index: MemoryKv;
  head: number;
  /** The first height the index holds (ADR 0130); a database upgraded at height h holds from h + 1. */
  indexedFrom: number;
}
const newChain = (head = 1, indexedFrom = 1): Chain => ({ index: new MemoryKv(), head, indexedFrom });

async function eventServer(
  t: Test,
  maxReplayedAlerts?: number,
  chain: Chain = newChain(),
  replayDrainMs?: number,
) {
  const events = new EventEmitter();
  const patientKey = toHex(Keys.patient(PATIENT.publicKey));
  const ctx = {
    validator: {
      events,
      store: { requireHead: () => ({ height: chain.head }), indexedFrom: chain.indexedFrom },
    },
    chainId: 'events-test',
    guard: new ReplayGuard(),
    view: {
      state: { get: async (k: Uint8Array) => (toHex(k) === patientKey ? PATIENT_RECORD : undefined) },
      index: chain.index,
    },
    recorder: { admits: () => true, record: () => undefined },
    now: Date.now,
  } as unknown as ApiContext;
  const apply = (height: number, txs: number, alerts: ReturnType<typeof alertRaised>[] = []) => {
    alerts.forEach((a, position) => {
      const d = a.event.data as [Uint8Array, number, ...unknown[]];
      chain.index.map.set(
        toHex(IndexKeys.raisedAlert(height, position, d[0], d[1])),
        encodeIndexValue([a.txId, ...d] as CborValue),
      );
    });
    chain.head = height;
    events.emit('block', block(height, txs, alerts));
  };
  const app = Fastify({ logger: false });
  app.addSchema(problemSchema);
  registerEventRoutes(app, ctx, 1, maxReplayedAlerts, replayDrainMs);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as net.AddressInfo).port;
  const serverSockets: net.Socket[] = [];
  app.server.on('connection', (s: net.Socket) => serverSockets.push(s));
  const clients: net.Socket[] = [];
  t.teardown(async () => {
    for (const c of clients) c.destroy();
    await app.close();
  });
  /**
   * A subscriber on a raw socket, once its stream has started; `read: false` stops reading after the
   * first bytes (a client that holds the connection but never reads); `signed`: as the patient, who
   * also gets their alerts. Returns the server's end too.
   */
  const subscribe = async (read: boolean, signed = false, extra: Record<string, string> = {}) => {
    const c = net.connect(port, '127.0.0.1');
    clients.push(c);
    c.on('error', () => undefined); // a reset is how a dropped connection may end
    c.setEncoding('utf8');
    let text = '';
    const started = new Promise<void>((resolve) => {
      c.on('data', (d: string) => {
        text += d;
        if (!read) c.pause();
        resolve();
      });
    });
    const headers = signed
      ? signRequest({ chainId: 'events-test', signer: PATIENT, method: 'GET', target: '/v1/events' })
      : {};
    const lines = Object.entries({ ...headers, ...extra }).map(([k, v]) => `${k}: ${v}\r\n`);
    c.write(`GET /v1/events HTTP/1.1\r\nHost: x\r\n${lines.join('')}\r\n`);
    await started;
    return { client: c, server: serverSockets[serverSockets.length - 1]!, text: () => text };
  };
  return { events, apply, subscribe };
}

t.test('a subscriber that never reads is disconnected, its buffer bounded, its slot reusable', async (t) => {
  const { events, subscribe } = await eventServer(t);
  const slow = await subscribe(false);
  t.match(slow.text(), /^HTTP\/1\.1 200/);
  // Offer far more than the kernel's socket buffers and the bound together can hold.
  let peak = 0;
  for (let h = 1; h <= 2000 && !slow.server.destroyed; h++) {
    events.emit('block', block(h, 2000));
    peak = Math.max(peak, slow.server.writableLength);
    await new Promise(setImmediate);
  }
  t.ok(slow.server.destroyed, 'the server destroyed the connection (end() would wait for it forever)');
  // What it left unread is measured before an event is written, so one event may come on top.
  const bound = MAX_BUFFERED_BYTES + eventBytes(2000);
  t.ok(peak <= bound, `at most ${bound} bytes held for it (peak ${peak})`);
  // maxSubscribers is 1: the slot is free for the next client.
  const next = await subscribe(true);
  t.match(next.text(), /^HTTP\/1\.1 200/);
});

t.test('an event larger than the bound reaches a fast subscriber whole; it stays connected', async (t) => {
  const { events, subscribe } = await eventServer(t);
  const s = await subscribe(true);
  // ~1.3 MB each, more than MAX_BUFFERED_BYTES: a block of 20,000 transactions (an operator may raise
  // the block limit). One event goes to every subscriber, so dropping for its size dropped them all.
  for (let h = 1; h <= 3; h++) {
    events.emit('block', block(h, 20_000));
    t.ok(await eventually(() => s.text().includes(`id: ${h}\n`), 10_000), `block ${h} arrived`);
  }
  // Each event is one HTTP chunk, so a chunk-size line never splits a `data:` line.
  const data = [...s.text().matchAll(/^event: block\nid: \d+\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1]!));
  t.same(
    data.map((d) => [d.height, d.txIds.length]),
    [
      [1, 20_000],
      [2, 20_000],
      [3, 20_000],
    ],
    'every transaction id of every block',
  );
  t.notOk(s.server.destroyed, 'still connected');
});

t.test("a signed subscriber gets a large block's event and then its alerts, and stays", async (t) => {
  const { events, subscribe } = await eventServer(t);
  const s = await subscribe(true, true);
  t.match(s.text(), /^HTTP\/1\.1 200/);
  // The alerts are written right behind the block's event, before the socket has taken all of it.
  events.emit('block', block(1, 20_000, [alertRaised(1), alertRaised(2)]));
  t.ok(
    await eventually(() => (s.text().match(/^event: alert$/gm) ?? []).length === 2, 10_000),
    'both alerts arrived',
  );
  t.match(s.text(), /event: block\nid: 1\n[\s\S]*event: alert\ndata: \{"height":1,[\s\S]*event: alert\n/);
  t.notOk(s.server.destroyed, 'still connected');
});

t.test('a subscriber that never reads is dropped even when single events pass the bound', async (t) => {
  const { events, subscribe } = await eventServer(t);
  const slow = await subscribe(false);
  let peak = 0;
  let h = 0;
  while (h < 100 && !slow.server.destroyed) {
    events.emit('block', block(++h, 20_000));
    peak = Math.max(peak, slow.server.writableLength);
    await new Promise(setImmediate);
  }
  t.ok(slow.server.destroyed, `dropped (after ${h} events) and its socket destroyed`);
  const bound = MAX_BUFFERED_BYTES + eventBytes(20_000);
  t.ok(peak <= bound, `at most ${bound} bytes held for it (peak ${peak})`);
});

t.test('a subscriber that reads keeps its stream', async (t) => {
  const { events, subscribe } = await eventServer(t);
  const s = await subscribe(true);
  for (let h = 1; h <= 40; h++) {
    events.emit('block', block(h, 2000));
    await new Promise(setImmediate);
  }
  t.ok(await eventually(() => s.text().includes('id: 40\n'), 10_000), 'every event arrived');
  t.notOk(s.server.destroyed);
});

t.test(
  'a burst of block events in one turn (block sync) does not drop a subscriber that reads',
  async (t) => {
    const { events, subscribe } = await eventServer(t);
    const s = await subscribe(true);
    // Catch-up announces a certified range's blocks back to back; the socket cannot send any of it
    // before the loop turns, so the whole burst is unread output at once (here ~8 MB).
    for (let h = 1; h <= 60; h++) events.emit('block', block(h, 2000));
    t.ok(await eventually(() => s.text().includes('id: 60\n'), 20_000), 'every event of the burst arrived');
    t.notOk(s.server.destroyed, 'still connected');
  },
);

/** The `event: alert` and `event: gap` records of a stream, in order, as [event, data]; whole ones only. */
const records = (text: string) =>
  [...text.matchAll(/^event: (alert|gap)\ndata: (.*)\n\n/gm)].map((m) => [m[1], JSON.parse(m[2]!)] as const);
const alertSeqs = (text: string) => records(text).flatMap(([e, d]) => (e === 'alert' ? [d.seq] : []));

t.test(
  'a subscriber back with Last-Event-ID gets the alerts raised from that block on, then live ones',
  async (t) => {
    const { apply, subscribe } = await eventServer(t);
    // The node is at height 1; blocks 2..4 raise alerts while nobody is subscribed.
    apply(2, 1, [alertRaised(1)]);
    apply(3, 1, [alertRaised(2)]);
    apply(4, 2, [alertRaised(3), alertRaised(4)]);
    // The client saw block 3's event: its alerts may have been cut off behind it, so they come again.
    const s = await subscribe(true, true, { 'last-event-id': '3' });
    t.ok(await eventually(() => alertSeqs(s.text()).length >= 3, 10_000), 'the missed alerts arrived');
    apply(5, 1, [alertRaised(5)]);
    t.ok(await eventually(() => alertSeqs(s.text()).includes(5), 10_000), 'then the live one');
    t.same(alertSeqs(s.text()), [2, 3, 4, 5], 'from block 3 on, once each, in order');
    t.same(
      records(s.text()).filter(([e]) => e === 'gap'),
      [],
      'no gap: the index holds every alert since block 3',
    );
    const first = records(s.text())[0]![1];
    t.match(first, { height: 3, patient: toHex(PATIENT.publicKey), seq: 2, cause: 'threshold', kind: 6 });
  },
);

t.test('a node started afresh over the same chain sends them too: a restart is no gap', async (t) => {
  const chain = newChain();
  const before = await eventServer(t, undefined, chain);
  before.apply(2, 1, [alertRaised(1)]);
  before.apply(3, 1, [alertRaised(2)]);
  // The node restarts (its memory is gone, the chain's index is not) and a client seen at block 2 returns.
  const after = await eventServer(t, undefined, chain);
  const s = await after.subscribe(true, true, { 'last-event-id': '2' });
  t.ok(await eventually(() => alertSeqs(s.text()).length >= 2, 10_000));
  t.same(alertSeqs(s.text()), [1, 2]);
  t.same(
    records(s.text()).filter(([e]) => e === 'gap'),
    [],
    'no gap',
  );
});

t.test('a gap only for what the index cannot serve: more than the limit, or before it starts', async (t) => {
  // At most 2 alerts sent again: block 2's is left out once block 4's arrives, and said first.
  const { apply, subscribe } = await eventServer(t, 2);
  apply(2, 1, [alertRaised(1)]);
  apply(3, 1, [alertRaised(2)]);
  apply(4, 1, [alertRaised(3)]);
  const s = await subscribe(true, true, { 'last-event-id': '2' });
  t.ok(await eventually(() => alertSeqs(s.text()).length >= 2, 10_000));
  t.same(records(s.text())[0], ['gap', { from: 2, heldFrom: 3, reason: 'limit' }], 'said first');
  t.same(alertSeqs(s.text()), [2, 3]);
  // Whole blocks: with a limit of 2, a block of three alerts is not cut in part, it is left out.
  const big = await eventServer(t, 2);
  big.apply(2, 3, [alertRaised(1), alertRaised(2), alertRaised(3)]);
  big.apply(3, 1, [alertRaised(4)]);
  const b = await big.subscribe(true, true, { 'last-event-id': '2' });
  t.ok(await eventually(() => alertSeqs(b.text()).length >= 1, 10_000));
  t.same(records(b.text())[0], ['gap', { from: 2, heldFrom: 3, reason: 'limit' }]);
  t.same(alertSeqs(b.text()), [4]);
  // A database upgraded to the index at height 3 (ADR 0130) holds the alerts of block 4 on.
  const chain = newChain(3, 4);
  const upgraded = await eventServer(t, undefined, chain);
  upgraded.apply(4, 1, [alertRaised(7)]);
  const u = await upgraded.subscribe(true, true, { 'last-event-id': '2' });
  t.ok(await eventually(() => alertSeqs(u.text()).length >= 1, 10_000));
  t.same(records(u.text())[0], ['gap', { from: 2, heldFrom: 4, reason: 'notIndexed' }]);
  t.same(alertSeqs(u.text()), [7]);
  // Nothing missing, nothing said: a return from the opening event's id, and one from genesis.
  const quiet = await eventServer(t);
  quiet.apply(2, 1, [alertRaised(1)]);
  const q = await quiet.subscribe(true, true, { 'last-event-id': '0' });
  t.ok(await eventually(() => alertSeqs(q.text()).length >= 1, 10_000));
  quiet.apply(3, 1, []);
  t.ok(await eventually(() => q.text().includes('id: 3\n'), 10_000));
  t.same(records(q.text()), [['alert', records(q.text())[0]![1]]], 'block 0 raises nothing: no gap');
});

t.test(
  'a long replay is sent as the client reads it, in order, and live blocks wait behind it',
  async (t) => {
    const { apply, subscribe } = await eventServer(t);
    // 3,000 alerts (~600 KB of events, past half the bound) over 30 blocks.
    for (let h = 2; h <= 31; h++) {
      apply(
        h,
        1,
        Array.from({ length: 100 }, (_, i) => alertRaised((h - 2) * 100 + i + 1)),
      );
    }
    const s = await subscribe(true, true, { 'last-event-id': '2' });
    apply(32, 1, [alertRaised(3001)]);
    t.ok(await eventually(() => alertSeqs(s.text()).length >= 3001, 20_000), 'every alert arrived');
    t.same(
      alertSeqs(s.text()),
      Array.from({ length: 3001 }, (_, i) => i + 1),
      'oldest first, once each, the live one last',
    );
    t.match(s.text(), /event: alert\ndata: \{"height":31,[^\n]*"seq":3000,[\s\S]*id: 32\n/);
    t.notOk(s.server.destroyed, 'still connected');
    // One that reads nothing holds the replay at about half the bound, and is dropped once it has read
    // nothing for the drain period (here 300 ms), with what queued behind it.
    // 4,000 alerts of ~4 KB: 16 MB, more than the kernel's socket buffers take.
    const slow = await eventServer(t, undefined, newChain(), 300);
    for (let h = 2; h <= 41; h++) {
      slow.apply(
        h,
        1,
        Array.from({ length: 100 }, (_, i) => alertRaised((h - 2) * 100 + i + 1, 4000)),
      );
    }
    const stuck = await slow.subscribe(false, true, { 'last-event-id': '2' });
    let peak = 0;
    for (let h = 42; h <= 400 && !stuck.server.destroyed; h++) {
      slow.apply(h, 1);
      peak = Math.max(peak, stuck.server.writableLength);
      await new Promise((r) => setTimeout(r, 10));
    }
    t.ok(stuck.server.destroyed, 'dropped');
    // Half the bound, then at most one page (256 alerts) before the replay waits.
    const bound = MAX_BUFFERED_BYTES / 2 + 256 * 4300;
    t.ok(peak <= bound, `at most ${bound} bytes held for it (peak ${peak})`);
  },
);

t.test('Last-Event-ID: nothing replayed unsigned, nor for a malformed id', async (t) => {
  // Two nodes: the stand-in takes one subscriber at a time.
  const a = await eventServer(t);
  const b = await eventServer(t);
  for (const n of [a, b]) n.apply(2, 1, [alertRaised(1)]);
  const anon = await a.subscribe(true, false, { 'last-event-id': '1' });
  const bad = await b.subscribe(true, true, { 'last-event-id': 'x1' });
  for (const n of [a, b]) n.apply(3, 1, []);
  t.ok(await eventually(() => anon.text().includes('id: 3\n') && bad.text().includes('id: 3\n'), 10_000));
  t.same(records(anon.text()), [], 'an unsigned stream carries no alert and no gap');
  t.same(records(bad.text()), [], 'an id that is not a height replays nothing');
});

t.test('a stream opens with the first block it covers as its id', async (t) => {
  const { events, subscribe } = await eventServer(t);
  const s = await subscribe(true);
  t.ok(await eventually(() => s.text().includes('event: open'), 10_000));
  // The stand-in's head is 1: a client that drops before any block event resumes from block 2.
  t.match(s.text(), /\r\n\r\n[\s\S]*event: open\nid: 2\ndata: \{"height":1\}\n\n/);
  events.emit('block', block(2, 1));
  t.ok(await eventually(() => s.text().includes('id: 2\ndata: {"height":2'), 10_000));
});

t.test("a block's alerts are sent before the next block's event, even in a burst", async (t) => {
  const { events, subscribe } = await eventServer(t);
  const s = await subscribe(true, true);
  // Block sync announces blocks back to back in one turn; an alert is sent after an access decision
  // (a state read), so without ordering block 3's event overtook block 2's alert. A client resuming
  // from block 3 would then never see it.
  events.emit('block', block(2, 1, [alertRaised(1)]));
  events.emit('block', block(3, 1, []));
  t.ok(await eventually(() => s.text().includes('id: 3\n'), 10_000));
  t.match(s.text(), /id: 2\n[\s\S]*event: alert\ndata: \{"height":2,[\s\S]*id: 3\n/);
});
