// Incremental Server-Sent Events parser (WHATWG HTML "Server-sent events", §9.2.6 "Interpreting an event
// stream"): lines end in LF, CR or CRLF; `field: value` with one optional space after the colon; lines
// starting with ':' are comments; a blank line dispatches the event. Browser-safe. Hostile-input bounds:
// a line or event longer than `maxEventBytes` is a typed error, not unbounded memory.

import { SdkError } from './errors.ts';

export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

export class SseParser {
  private buf = '';
  private event = '';
  private data: string[] = [];
  private dataLen = 0;
  private id: string | undefined;
  private lastId: string | undefined;
  private pendingCR = false;
  private readonly maxEventBytes: number;

  constructor(opts: { maxEventBytes?: number } = {}) {
    this.maxEventBytes = opts.maxEventBytes ?? 1 << 20;
  }

  /** Feeds a decoded chunk; returns the events completed by it. */
  push(chunk: string): SseEvent[] {
    const out: SseEvent[] = [];
    let s = chunk;
    // A CR at the end of the previous chunk followed by LF here is one line break, not two.
    if (this.pendingCR && s.startsWith('\n')) s = s.slice(1);
    this.pendingCR = false;
    this.buf += s;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) break;
      if (m[0] === '\r' && m.index === this.buf.length - 1) {
        // Could be the first half of a CRLF split across chunks: treat as a break, swallow a leading LF next.
        this.pendingCR = true;
      }
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    if (this.buf.length > this.maxEventBytes) throw new SdkError('MALFORMED_RESPONSE', 'SSE line too long');
    return out;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return undefined;
      }
      const ev = { event: this.event || 'message', data: this.data.join('\n'), id: this.id ?? this.lastId };
      this.lastId = ev.id;
      this.event = '';
      this.data = [];
      this.dataLen = 0;
      this.id = undefined;
      return ev;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') {
      this.dataLen += value.length + 1;
      if (this.dataLen > this.maxEventBytes) throw new SdkError('MALFORMED_RESPONSE', 'SSE event too large');
      this.data.push(value);
    } else if (field === 'id' && !value.includes('\0')) this.id = value;
    return undefined;
  }
}
