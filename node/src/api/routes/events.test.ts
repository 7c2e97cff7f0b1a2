// The event stream's bound on a subscriber that does not keep up, over real sockets against a stand-in
// validator (an EventEmitter of applied blocks): the node, not the client, decides when it is dropped,
// and a dropped subscriber's connection and buffered output are gone, not merely its slot.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { signerFromSeed, toHex } from '@vigil/consensus/wire';
import Fastify from 'fastify';
import t, { type Test } from 'tap';
import { Keys } from '../../state-machine/index.ts';
import { Codec, encodeRecordValue } from '../../state-machine/records.ts';
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
const block = (height: number, txs: number, events: unknown[] = []) => ({
  height,
  blockHash: new Uint8Array(32),
  result: { events, receipts: Array.from({ length: txs }, () => ({ txId: TX_ID })) },
});
/** A patient, registered in the stand-in state, who subscribes to their own alerts. */
const PATIENT = signerFromSeed(new Uint8Array(32).fill(7));
const PATIENT_RECORD = encodeRecordValue(
  Codec.patient.enc({ registeredBy: null, since: 0, guardians: [], researchOptIn: false }),
);
const alertRaised = (seq: number) => ({
  txId: TX_ID,
  event: { kind: 'alertRaised', data: [PATIENT.publicKey, seq, 'threshold', 6, 30, null, null, [], 0] },
});

async function eventServer(t: Test) {
  const events = new EventEmitter();
  const patientKey = toHex(Keys.patient(PATIENT.publicKey));
  const ctx = {
    validator: { events, store: { requireHead: () => ({ height: 1 }) } },
    chainId: 'events-test',
    guard: new ReplayGuard(),
    view: { state: { get: async (k: Uint8Array) => (toHex(k) === patientKey ? PATIENT_RECORD : undefined) } },
    now: Date.now,
  } as unknown as ApiContext;
  const app = Fastify({ logger: false });
  app.addSchema(problemSchema);
  registerEventRoutes(app, ctx, 1);
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
  const subscribe = async (read: boolean, signed = false) => {
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
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
    c.write(`GET /v1/events HTTP/1.1\r\nHost: x\r\n${lines.join('')}\r\n`);
    await started;
    return { client: c, server: serverSockets[serverSockets.length - 1]!, text: () => text };
  };
  return { events, subscribe };
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
  const data = [...s.text().matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!));
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
