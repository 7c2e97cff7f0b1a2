// The live feed: a stream that goes silent without an error (a dead network path) is dropped and
// reopened rather than left showing "live", and each reopening tells the views to re-read what they
// show, since the events sent while it was down are not replayed.
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
