// The event stream's bound on a subscriber that does not keep up, over real sockets against a stand-in
// validator (an EventEmitter of applied blocks): the node, not the client, decides when it is dropped,
// and a dropped subscriber's connection and buffered output are gone, not merely its slot.
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import Fastify from 'fastify';
import t, { type Test } from 'tap';
import { eventually } from '../../testing/ports.ts';
import type { ApiContext } from '../context.ts';
import { problemSchema } from '../problem.ts';
import { MAX_BUFFERED_BYTES, registerEventRoutes } from './events.ts';

const TX_ID = new Uint8Array(32);
/** An applied block whose event lists `txs` transaction ids (about 67 bytes each in the stream). */
const block = (height: number, txs: number) => ({
  height,
  blockHash: new Uint8Array(32),
  result: { events: [], receipts: Array.from({ length: txs }, () => ({ txId: TX_ID })) },
});

async function eventServer(t: Test) {
  const events = new EventEmitter();
  const ctx = {
    validator: { events, store: { requireHead: () => ({ height: 1 }) } },
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
   * first bytes (a client that holds the connection but never reads). Returns the server's end too.
   */
  const subscribe = async (read: boolean) => {
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
    c.write('GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n');
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
  t.ok(peak <= MAX_BUFFERED_BYTES, `at most ${MAX_BUFFERED_BYTES} bytes held for it (peak ${peak})`);
  // maxSubscribers is 1: the slot is free for the next client.
  const next = await subscribe(true);
  t.match(next.text(), /^HTTP\/1\.1 200/);
});

t.test('an event that alone would pass the bound is not written; the subscriber is dropped', async (t) => {
  const { events, subscribe } = await eventServer(t);
  const s = await subscribe(true);
  const closed = once(s.client, 'close');
  events.emit('block', block(1, 20_000)); // ~1.3 MB
  t.ok(s.server.destroyed, 'dropped at once');
  if (s.server.destroyed) await closed; // everything sent before the drop has arrived
  t.notMatch(s.text(), /event: block/, 'none of it was sent');
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
