// Helpers for the multi-node tests (imported only by *.test.ts): in-process validators on 127.0.0.1
// with ephemeral ports, a raw libp2p peer that holds a validator key but speaks whatever bytes a test
// wants, and a condition poller. Tests assert on state reached, never on elapsed time; the poller's
// deadline only turns a hang into a failure.

import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import type { FaultLayer } from './fault.ts';
import { identityFromSeed } from './identity.ts';
import type { LimitOverrides } from './limits.ts';
import type { P2PLogger } from './logger.ts';
import { type AllowedPeers, type NetworkConfig, VigilNetwork } from './network.ts';

export function seedOf(i: number): Uint8Array {
  const s = new Uint8Array(32);
  s[0] = 0x5e;
  s[1] = i;
  return s;
}

export async function publicKeyOf(i: number): Promise<Uint8Array> {
  return (await identityFromSeed(seedOf(i))).publicKey;
}

export async function waitFor(what: string, cond: () => boolean, deadlineMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > deadlineMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface RecordingLogger extends P2PLogger {
  events: { level: 'info' | 'warn'; event: string; fields?: Record<string, unknown> }[];
}

export function recordingLogger(): RecordingLogger {
  const events: RecordingLogger['events'] = [];
  return {
    events,
    info: (event, fields) => events.push({ level: 'info', event, fields }),
    warn: (event, fields) => events.push({ level: 'warn', event, fields }),
  };
}

export interface ClusterOptions {
  /** Indices (into the validator seeds) that are validators; default 0..n-1. */
  n: number;
  limits?: LimitOverrides;
  fault?: FaultLayer;
  /** Extra validator keys every node allows but does not dial (raw test peers). */
  extraValidators?: Uint8Array[];
  configure?: (i: number, cfg: NetworkConfig) => NetworkConfig;
}

export interface Cluster {
  nodes: VigilNetwork[];
  loggers: RecordingLogger[];
  allowed: AllowedPeers;
  stop(): Promise<void>;
}

/** Start n validators that know each other's keys, then give them each other's addresses. */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const keys = await Promise.all(Array.from({ length: opts.n }, (_, i) => publicKeyOf(i)));
  const base: AllowedPeers = {
    validators: [
      ...keys.map((publicKey) => ({ publicKey })),
      ...(opts.extraValidators ?? []).map((publicKey) => ({ publicKey })),
    ],
  };
  const loggers = keys.map(() => recordingLogger());
  const nodes = await Promise.all(
    keys.map((_, i) => {
      let cfg: NetworkConfig = {
        seed: seedOf(i),
        peers: base,
        limits: { reconnect: { baseMs: 20, maxMs: 200, stableMs: 1000 }, ...opts.limits },
        logger: loggers[i],
        ...(opts.fault ? { fault: opts.fault } : {}),
      };
      if (opts.configure) cfg = opts.configure(i, cfg);
      return VigilNetwork.create(cfg);
    }),
  );
  await Promise.all(nodes.map((n) => n.start()));
  const allowed: AllowedPeers = {
    validators: [
      ...keys.map((publicKey, i) => ({ publicKey, addrs: nodes[i]!.listenAddrs() })),
      ...(opts.extraValidators ?? []).map((publicKey) => ({ publicKey })),
    ],
  };
  for (const node of nodes) node.updateAllowedPeers(allowed);
  await waitFor('full mesh', () =>
    nodes.every((node) =>
      node.peers().every((p) => p.connected || !keys.some((k) => Buffer.from(k).equals(p.publicKey))),
    ),
  );
  return {
    nodes,
    loggers,
    allowed,
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}

/** A bare libp2p node holding validator key `i`: it passes the gate but speaks raw bytes. */
export async function rawPeer(i: number): Promise<Libp2p> {
  const id = await identityFromSeed(seedOf(i));
  return createLibp2p({
    privateKey: id.privateKey,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 1000 },
  });
}
