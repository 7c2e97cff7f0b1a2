// The live feed: one signed Server-Sent Events subscription to /v1/events per signed-in tab (docs/api.md
// "Events"). Browsers' EventSource cannot send the x-vigil-* headers, so the stream is read with fetch
// and parsed incrementally (sensor-client's WHATWG parser). Everything live in the dashboard hangs off
// this stream: nothing polls. A dropped stream is reopened with capped exponential backoff. A stream
// that goes silent (a dead network path that no TCP error reports: a laptop's Wi-Fi, a proxy) is
// treated as dropped once nothing, not even the node's 15 s keep-alive, has arrived for IDLE_MS: else
// the header would say "live" over values that no longer update. A reconnect names the last event id
// seen (`Last-Event-ID`: a block's height, or the opening event's first block), and the node first sends
// again the alerts raised from that block on, from its alert index (docs/api.md "Events", ADR 0130; a
// restart of the node loses none): they reach `onAlert` like live ones, each (patient, seq) once. When
// it cannot send them all (more than it sends at once, or older than its index) it says so, and `onGap`
// listeners are told.
// Blocks are not replayed: after a reconnect, `onResume` listeners re-read what they show.
import type { Signer } from '@vigil/consensus/wire';
import { SseParser } from '@vigil/sensor-client/browser';
import type { Client } from './client.ts';

export interface BlockEvent {
  height: number;
  hash: string;
  txIds: string[];
}

export interface AlertEvent {
  height: number;
  txId: string;
  patient: string;
  seq: number;
  cause: string;
  kind: number | null;
  value: number | null;
  news2Total: number | null;
  band: number | null;
  missing: string[];
  oldestAgeMs: number | null;
}

/** The node could not send again every alert from block `from` on: those before `heldFrom` may be missing. */
export interface GapEvent {
  from: number;
  heldFrom: number;
  /** `limit`: more alerts than the node sends again at once; `notIndexed`: older than its alert index. */
  reason?: 'limit' | 'notIndexed';
}

export type FeedState = 'connecting' | 'live' | 'reconnecting';

/** Alerts remembered to drop a second copy: the replay after a reconnect repeats at most a block's. */
const SEEN_ALERTS = 10_000;

/** Three of the node's 15 s keep-alives (docs/api.md, "Events") missed: the stream is dead. */
export const IDLE_MS = 45_000;

export interface FeedOptions {
  /** For tests; the page uses the global fetch. */
  fetch?: typeof fetch;
  idleMs?: number;
  /** First reconnection delay, doubled per failure up to 30 s (tests shorten it). */
  backoffMs?: number;
}

type Listener<T> = (e: T) => void;

export class LiveFeed {
  private readonly blockListeners = new Set<Listener<BlockEvent>>();
  private readonly alertListeners = new Set<Listener<AlertEvent>>();
  private readonly stateListeners = new Set<Listener<FeedState>>();
  private abort: AbortController | undefined;
  private stopped = false;
  private failures = 0;
  state: FeedState = 'connecting';

  private readonly resumeListeners = new Set<() => void>();
  private readonly gapListeners = new Set<Listener<GapEvent>>();
  private connectedBefore = false;
  /** The id of the last event received: the first block whose alerts this tab may lack. */
  private lastEventId: string | undefined;
  /** `patient/seq` of the alerts dispatched, oldest first (a Set keeps insertion order). */
  private readonly seen = new Set<string>();
  private readonly backoffMs: number;
  private readonly client: Client;
  private readonly signer: Signer | undefined;
  private readonly fetch: typeof fetch;
  private readonly idleMs: number;

  constructor(client: Client, signer: Signer | undefined, options: FeedOptions = {}) {
    this.client = client;
    this.signer = signer;
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.idleMs = options.idleMs ?? IDLE_MS;
    this.backoffMs = options.backoffMs ?? 500;
  }

  /** The node could not catch up every alert raised while the stream was down. */
  onGap(l: Listener<GapEvent>): () => void {
    this.gapListeners.add(l);
    return () => this.gapListeners.delete(l);
  }

  /** Called each time the stream is open again after a drop: re-read, as the missed events are gone. */
  onResume(l: () => void): () => void {
    this.resumeListeners.add(l);
    return () => this.resumeListeners.delete(l);
  }

  onBlock(l: Listener<BlockEvent>): () => void {
    this.blockListeners.add(l);
    return () => this.blockListeners.delete(l);
  }
  onAlert(l: Listener<AlertEvent>): () => void {
    this.alertListeners.add(l);
    return () => this.alertListeners.delete(l);
  }
  onState(l: Listener<FeedState>): () => void {
    this.stateListeners.add(l);
    l(this.state);
    return () => this.stateListeners.delete(l);
  }

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private setState(s: FeedState) {
    this.state = s;
    for (const l of this.stateListeners) l(s);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.once();
      } catch {
        // fall through to the backoff
      }
      if (this.stopped) return;
      this.setState('reconnecting');
      this.failures += 1;
      const delay = Math.min(30_000, this.backoffMs * 2 ** Math.min(this.failures, 6));
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  private async once(): Promise<void> {
    this.abort = new AbortController();
    const target = '/v1/events';
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.signer) Object.assign(headers, this.client.signedHeaders(this.signer, 'GET', target));
    // What EventSource does on reconnecting; the node then sends the alerts raised since.
    if (this.lastEventId !== undefined) headers['last-event-id'] = this.lastEventId;
    const abort = this.abort;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const watch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => abort.abort(), this.idleMs);
    };
    try {
      watch();
      const res = await this.fetch(target, { headers, signal: abort.signal, cache: 'no-store' });
      if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
      this.setState('live');
      this.failures = 0;
      if (this.connectedBefore) for (const l of this.resumeListeners) l();
      this.connectedBefore = true;
      const parser = new SseParser();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        watch();
        const { value, done } = await reader.read();
        if (done) return;
        for (const ev of parser.push(value)) this.dispatch(ev.event, ev.data, ev.id);
      }
    } finally {
      clearTimeout(idle);
    }
  }

  private dispatch(event: string, data: string, id: string | undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    // Block events carry their height, the opening event the first block the stream covers.
    if (id !== undefined) this.lastEventId = id;
    if (event === 'block') for (const l of this.blockListeners) l(parsed as BlockEvent);
    if (event === 'alert') {
      const a = parsed as AlertEvent;
      const k = `${a.patient}/${a.seq}`;
      // The node sends the alerts of the last block seen again after a reconnect (the stream may have
      // dropped between a block and its alerts): the copy of one already shown is dropped.
      if (this.seen.has(k)) return;
      this.seen.add(k);
      if (this.seen.size > SEEN_ALERTS) this.seen.delete(this.seen.values().next().value!);
      for (const l of this.alertListeners) l(a);
    }
    if (event === 'gap') for (const l of this.gapListeners) l(parsed as GapEvent);
  }
}

/** Runs `fn` at most once per `ms`, trailing: a burst of blocks becomes one refresh. */
export function throttle(fn: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = 0;
  return () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = undefined;
      last = Date.now();
      fn();
    }, wait);
  };
}
