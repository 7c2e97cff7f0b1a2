// The live feed: one signed Server-Sent Events subscription to /v1/events per signed-in tab (docs/api.md
// "Events"). Browsers' EventSource cannot send the x-vigil-* headers, so the stream is read with fetch
// and parsed incrementally (sensor-client's WHATWG parser). Everything live in the dashboard hangs off
// this stream: nothing polls. A dropped stream is reopened with capped exponential backoff. A stream
// that goes silent (a dead network path that no TCP error reports: a laptop's Wi-Fi, a proxy) is
// treated as dropped once nothing, not even the node's 15 s keep-alive, has arrived for IDLE_MS: else
// the header would say "live" over values that no longer update. After a reconnect, `onResume`
// listeners re-read what they show, since events sent while the stream was down are not replayed.
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

export type FeedState = 'connecting' | 'live' | 'reconnecting';

/** Three of the node's 15 s keep-alives (docs/api.md, "Events") missed: the stream is dead. */
export const IDLE_MS = 45_000;

export interface FeedOptions {
  /** For tests; the page uses the global fetch. */
  fetch?: typeof fetch;
  idleMs?: number;
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
  private connectedBefore = false;
  private readonly client: Client;
  private readonly signer: Signer | undefined;
  private readonly fetch: typeof fetch;
  private readonly idleMs: number;

  constructor(client: Client, signer: Signer | undefined, options: FeedOptions = {}) {
    this.client = client;
    this.signer = signer;
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.idleMs = options.idleMs ?? IDLE_MS;
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
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this.failures, 6));
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  private async once(): Promise<void> {
    this.abort = new AbortController();
    const target = '/v1/events';
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.signer) Object.assign(headers, this.client.signedHeaders(this.signer, 'GET', target));
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
        for (const ev of parser.push(value)) this.dispatch(ev.event, ev.data);
      }
    } finally {
      clearTimeout(idle);
    }
  }

  private dispatch(event: string, data: string) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    if (event === 'block') for (const l of this.blockListeners) l(parsed as BlockEvent);
    if (event === 'alert') for (const l of this.alertListeners) l(parsed as AlertEvent);
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
