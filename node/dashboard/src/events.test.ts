// The live feed: a stream that goes silent without an error (a dead network path) is dropped and
// reopened rather than left showing "live", and each reopening tells the views to re-read what they
// show. A reopening names the last event id seen, so that the node sends again the alerts raised
// meanwhile; each reaches the views once; a gap in what the node could send is passed on.
import t from 'tap';
import { Client } from './client.ts';
import { type FeedState, LiveFeed } from './events.ts';

/** A node whose event stream sends `first` and then nothing at all, not even keep-alives. */
function silentNode(first: string) {
  let opened = 0;
  const fakeFetch = (async (_input: RequestInfo | URL, init?: RequestInit) => {
    opened += 1;
    const signal = init?.signal;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode(first));
        signal?.addEventListener('abort', () => c.error(new DOMException('aborted', 'AbortError')));
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  }) as typeof fetch;
  return { fakeFetch, opened: () => opened };
}

t.test('a silent stream is reopened, and the reopening is announced for a re-read', async (t) => {
  const node = silentNode('event: block\nid: 7\ndata: {"height":7,"hash":"aa","txIds":[]}\n\n');
  const feed = new LiveFeed(new Client('vigil-test', 0), undefined, { fetch: node.fakeFetch, idleMs: 20 });
  t.teardown(() => feed.stop());
  const states: FeedState[] = [];
  const heights: number[] = [];
  let resumed = 0;
  feed.onBlock((b) => heights.push(b.height));
  const back = new Promise<void>((resolve) => {
    feed.onResume(() => {
      resumed += 1;
      resolve();
    });
  });
  feed.onState((s) => states.push(s));
  feed.start();
  // Bounded so that a feed that never notices the silence fails here rather than hanging the suite.
  const bound = new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), 10_000).unref());
  const r = await Promise.race([back.then(() => 'resumed' as const), bound]);
  t.equal(r, 'resumed', 'the silent stream was dropped and reopened');
  t.equal(node.opened(), 2);
  t.equal(resumed, 1, 'the first connection is not a resume; the second is');
  t.same(states, ['connecting', 'live', 'reconnecting', 'live']);
  t.equal(heights[0], 7, 'events were dispatched before the silence');
});

/** A node whose n-th stream (from 0) sends `streams[n]` and then ends; the request headers of each. */
function scriptedNode(streams: string[]) {
  const headers: Record<string, string>[] = [];
  const fakeFetch = (async (_input: RequestInfo | URL, init?: RequestInit) => {
    const n = headers.length;
    headers.push({ ...(init?.headers as Record<string, string>) });
    const text = streams[n];
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        if (text === undefined) return; // past the script: open and silent until stopped
        c.enqueue(new TextEncoder().encode(text));
        c.close();
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  }) as typeof fetch;
  return { fakeFetch, headers };
}

const A = 'aa'.repeat(32);
const B = 'bb'.repeat(32);
const blockEv = (h: number) => `event: block\nid: ${h}\ndata: {"height":${h},"hash":"00","txIds":[]}\n\n`;
const alertEv = (h: number, patient: string, seq: number) =>
  `event: alert\ndata: ${JSON.stringify({ height: h, txId: '00', patient, seq, cause: 'news2' })}\n\n`;

t.test(
  'a reconnect asks for what it missed (Last-Event-ID); an alert sent again is dispatched once',
  async (t) => {
    const node = scriptedNode([
      // Block 7 and its alert for A, then the stream drops.
      blockEv(7) + alertEv(7, A, 1),
      // Back: the node sends the alerts from block 7 on, A's again (it may have been cut off) and one
      // for B raised during the outage, then goes on live.
      alertEv(7, A, 1) + alertEv(9, B, 1) + blockEv(10) + alertEv(10, A, 2),
    ]);
    const feed = new LiveFeed(new Client('vigil-test', 0), undefined, {
      fetch: node.fakeFetch,
      backoffMs: 1,
    });
    t.teardown(() => feed.stop());
    const alerts: string[] = [];
    const done = new Promise<void>((resolve) => {
      feed.onAlert((a) => {
        alerts.push(`${a.patient.slice(0, 2)}/${a.seq}`);
        if (a.seq === 2) resolve();
      });
    });
    feed.start();
    const bound = new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), 10_000).unref());
    t.equal(await Promise.race([done.then(() => 'done' as const), bound]), 'done');
    t.notOk('last-event-id' in node.headers[0]!, 'a first connection asks for nothing old');
    t.equal(node.headers[1]!['last-event-id'], '7', 'the reconnect names the last block seen');
    t.same(alerts, ['aa/1', 'bb/1', 'aa/2'], 'each alert once, the one raised during the outage included');
  },
);

t.test('a stream that drops before any block resumes from where it opened', async (t) => {
  const node = scriptedNode([
    'event: open\nid: 5\ndata: {"height":4}\n\n',
    `${alertEv(5, B, 3)}${blockEv(5)}`,
  ]);
  const feed = new LiveFeed(new Client('vigil-test', 0), undefined, { fetch: node.fakeFetch, backoffMs: 1 });
  t.teardown(() => feed.stop());
  const alert = new Promise<number>((resolve) => feed.onAlert((a) => resolve(a.seq)));
  feed.start();
  const bound = new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), 10_000).unref());
  t.equal(await Promise.race([alert, bound]), 3, 'the alert raised during the outage');
  t.equal(node.headers[1]!['last-event-id'], '5');
});

t.test('a gap the node reports reaches the views', async (t) => {
  const node = scriptedNode([blockEv(3), `event: gap\ndata: {"from":3,"heldFrom":5}\n\n${blockEv(6)}`]);
  const feed = new LiveFeed(new Client('vigil-test', 0), undefined, { fetch: node.fakeFetch, backoffMs: 1 });
  t.teardown(() => feed.stop());
  const gap = new Promise<unknown>((resolve) => feed.onGap(resolve));
  feed.start();
  const bound = new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), 10_000).unref());
  t.same(await Promise.race([gap, bound]), { from: 3, heldFrom: 5 });
});
