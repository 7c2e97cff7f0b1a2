// One-line summaries of consensus messages for the --trace output (decoded only when a trace is read).

import { decodeMessage, type MessageLimits, MessageType } from '../src/pbft/messages.ts';
import { hex } from './crypto.ts';

export function describeMessage(raw: Uint8Array, limits: MessageLimits): string {
  let m: ReturnType<typeof decodeMessage>;
  try {
    m = decodeMessage(raw, limits);
  } catch (e) {
    return `(undecodable: ${(e as { code?: string }).code ?? 'error'})`;
  }
  switch (m.type) {
    case MessageType.prePrepare:
      return `v${m.view} h${m.height} ${hex(m.blockHash).slice(0, 8)} txs${m.block.txs.length} by${m.replica}`;
    case MessageType.prepare:
    case MessageType.commit:
      return `v${m.view} h${m.height} ${hex(m.blockHash).slice(0, 8)} by${m.replica}`;
    case MessageType.checkpoint:
      return `h${m.height} ${hex(m.blockHash).slice(0, 8)} by${m.replica}`;
    case MessageType.viewChange:
      return `to-v${m.newView} cp${m.checkpointProof.length} prepared${m.prepared.length} by${m.replica}`;
    case MessageType.newView:
      return `v${m.view} V${m.viewChanges.length} O${m.prePrepares.length} by${m.replica}`;
    case MessageType.fetch:
      return `from-h${m.fromHeight} x${m.count} by${m.replica}`;
    case MessageType.blockReply:
      return `h${m.height} ${hex(m.blockHash).slice(0, 8)} by${m.replica}`;
    case MessageType.suspect:
      return `v${m.view} by${m.replica}`;
  }
}
