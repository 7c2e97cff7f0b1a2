// VigilNetwork: the p2p transport one validator (or observer) node runs. The node hands over its ed25519
// seed and the validator set; it gets back an object to send and receive framed messages per protocol:
//
//   const net = await VigilNetwork.create({ seed, peers: { validators: [{ publicKey, addrs }] } });
//   net.onConsensus((from, msg) => replica.step({ type: 'receive', from: indexOf(from), message: msg }));
//   net.broadcastConsensus(bytes);            net.sendConsensus(peerKey, bytes);
//   net.gossipTransactions(txs, fromPeer?);   net.onTransactions((from, txs) => ...);
//   net.serveBlocks((from, req) => blocks);   await net.requestBlocks(peerKey, fromHeight, count);
//   net.serveStatus(() => status);            await net.requestStatus(peerKey);
//   (PRE-PREPAREs go out compact to peers that support it, and come back rebuilt: ADR 0129)
//   net.updateAllowedPeers(newSet);           net.metrics();       net.fault.partition(...);
//
// Peers are named by the lower-case hex of their ed25519 public key ("peer key"); the node maps keys to
// validator indices. See docs/p2p.md and ADR 0050.

import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { backoffDelay } from './backoff.ts';
import {
  type BlockRangeRequest,
  decodeBlockRangeRequest,
  decodeNodeStatus,
  encodeBlockRangeRequest,
  encodeNodeStatus,
  type NodeStatus,
  SyncStatus,
} from './codec.ts';
import { leafKey, maxTxFetchRequestBytes } from './compact-codec.ts';
import { CompactRelay } from './compact-relay.ts';
import { CompactError, FrameError, P2PError, P2PErrorCode } from './errors.ts';
import { FaultLayer } from './fault.ts';
import {
  BATCH_HEADER_BYTES,
  type DecodeOptions,
  encodeFrame,
  FrameDecoder,
  type FrameLimits,
  frameBytesFor,
  MESSAGE_OVERHEAD_BYTES,
} from './frame.ts';
import { type Identity, identityFromSeed, keyHex, peerIdFromValidatorKey } from './identity.ts';
import { type LimitOverrides, type P2PLimits, resolveLimits } from './limits.ts';
import { type P2PLogger, stderrLogger } from './logger.ts';
import { LruSet } from './lru-set.ts';
import { consensusKind, type DropReason, emptyMetrics, type P2PMetrics } from './metrics.ts';
import { MessageKind, OutboundChannel, type OutboundMessage } from './outbound-channel.ts';
import { PeerScores } from './peer-score.ts';
import {
  Protocol,
  type ProtocolName,
  type RequestProtocol,
  STREAMING_PROTOCOLS,
  type StreamingProtocol,
} from './protocols.ts';
import type { Rng } from './random.ts';
import { readOneFrame } from './read-frame.ts';
import { TokenBucket } from './token-bucket.ts';

export type PeerRole = 'validator' | 'observer';

export interface PeerEntry {
  /** Raw 32-byte ed25519 public key (the validator key from genesis). */
  publicKey: Uint8Array;
  /** Multiaddrs to dial, e.g. '/ip4/10.0.0.2/tcp/7001' (the /p2p/<id> suffix is added when missing). */
  addrs?: readonly string[];
}

export interface AllowedPeers {
  validators: readonly PeerEntry[];
  /** Peers that may connect and use sync/status, but never vote (their consensus/txgossip is refused). */
  observers?: readonly PeerEntry[];
}

export interface PeerInfo {
  key: string;
  publicKey: Uint8Array;
  role: PeerRole;
  peerId: string;
}

export interface NetworkConfig {
  /** The validator's 32-byte ed25519 seed; the libp2p identity is derived from it. */
  seed: Uint8Array;
  /** Listen multiaddrs (default: loopback, ephemeral port). */
  listen?: readonly string[];
  peers: AllowedPeers;
  limits?: LimitOverrides;
  /** Fault layer to consult (may be shared by several in-process nodes); default: a fresh, inactive one. */
  fault?: FaultLayer;
  logger?: P2PLogger;
  /** Clock for rate limits and scores (ms). */
  now?: () => number;
  /** Randomness for reconnection jitter. */
  rng?: Rng;
}

export type ConsensusHandler = (from: string, message: Uint8Array) => void;
export type TransactionsHandler = (from: string, txs: Uint8Array[]) => void;
export type BlockProvider = (from: string, req: BlockRangeRequest) => Uint8Array[] | Promise<Uint8Array[]>;
export type StatusProvider = () => NodeStatus;
export type PeerEventHandler = (event: 'connect' | 'disconnect', peer: PeerInfo) => void;

interface PeerState {
  info: PeerInfo;
  peerId: PeerId;
  addrs: Multiaddr[];
  channels: Record<StreamingProtocol, OutboundChannel>;
  buckets: Record<StreamingProtocol | 'request' | 'txfetch', TokenBucket>;
  /** Hashes of transactions this peer has (sent to it, or received from it). */
  txSeen: LruSet<string>;
  reconnectAttempt: number;
  /** When the peer's current connection opened (clock of `now`), if connected. */
  connectedAt: number | undefined;
  /** When the peer lost its last connection (clock of `now`), if it is down after having been up. */
  disconnectedAt: number | undefined;
  reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  dialing: boolean;
  /** The peer's current inbound consensus and gossip streams: one each, the newest (#acceptStream). */
  inbound: Partial<Record<StreamingProtocol, Stream>>;
}

/** The request frame of sync/status: a handful of bytes. */
const REQUEST_FRAME_LIMITS: FrameLimits = { maxFrameBytes: 64, maxMessagesPerFrame: 1 };

export class VigilNetwork {
  readonly identity: Identity;
  readonly fault: FaultLayer;
  readonly #libp2p: Libp2p;
  readonly #limits: P2PLimits;
  readonly #log: P2PLogger;
  readonly #now: () => number;
  readonly #rng: Rng;
  readonly #scores: PeerScores;
  readonly #metrics: P2PMetrics = emptyMetrics();
  /** Allowed peers by libp2p PeerId string. */
  #peers = new Map<string, PeerState>();
  /** Peer key -> PeerId string. */
  #byKey = new Map<string, string>();
  #consensusHandler: ConsensusHandler | undefined;
  #txHandler: TransactionsHandler | undefined;
  #blockProvider: BlockProvider | undefined;
  #statusProvider: StatusProvider | undefined;
  #peerHandler: PeerEventHandler | undefined;
  /** Compact PRE-PREPAREs (ADR 0129); undefined when limits.compact is false. */
  readonly #compact: CompactRelay | undefined;
  #running = false;
  #stopped = false;

  private constructor(identity: Identity, libp2p: Libp2p, cfg: NetworkConfig, limits: P2PLimits) {
    this.identity = identity;
    this.#libp2p = libp2p;
    this.#limits = limits;
    this.#log = cfg.logger ?? stderrLogger;
    this.#now = cfg.now ?? (() => performance.now());
    this.#rng = cfg.rng ?? Math.random;
    this.fault = cfg.fault ?? new FaultLayer();
    this.#scores = new PeerScores(limits.score, this.#now);
    this.#compact =
      limits.compact === false
        ? undefined
        : new CompactRelay(
            limits.compact,
            {
              request: (peer, body, timeoutMs) => this.#txFetch(peer, body, timeoutMs),
              deliver: (peer, message) => {
                const p = this.#peerByKey(peer);
                const h = this.#consensusHandler;
                if (p !== undefined && h !== undefined && this.#running)
                  this.#callHandler('consensus', p, 1, () => h(peer, message));
              },
              offence: (peer, err) => this.#compactOffence(peer, err),
              log: this.#log,
            },
            this.#metrics.compact,
          );
  }

  /** Build the node (not yet listening). Call start(). */
  static async create(cfg: NetworkConfig): Promise<VigilNetwork> {
    const identity = await identityFromSeed(cfg.seed);
    const limits = resolveLimits(cfg.limits);
    // The gater closes over `net`, which exists before libp2p accepts anything (start comes later).
    let net: VigilNetwork | undefined;
    const refuse = (peerId: PeerId, direction: 'inbound' | 'outbound') =>
      net === undefined ? true : net.#refuse(peerId, direction);
    const libp2p = await createLibp2p({
      start: false,
      privateKey: identity.privateKey,
      addresses: { listen: [...(cfg.listen ?? ['/ip4/127.0.0.1/tcp/0'])] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: { inboundConnectionThreshold: limits.inboundConnectionsPerHostPerSecond },
      connectionGater: {
        // Right after the noise handshake the remote's key is proven; refuse anyone not allowed.
        denyInboundEncryptedConnection: (peerId) => refuse(peerId, 'inbound'),
        denyOutboundEncryptedConnection: (peerId) => refuse(peerId, 'outbound'),
        denyDialPeer: (peerId) => (net === undefined ? true : net.#isRefused(peerId.toString())),
      },
    });
    net = new VigilNetwork(identity, libp2p, cfg, limits);
    net.updateAllowedPeers(cfg.peers);
    return net;
  }

  /** This node's peer key (hex of its ed25519 public key). */
  get key(): string {
    return this.identity.key;
  }

  get peerId(): string {
    return this.identity.peerId.toString();
  }

  /** The multiaddrs this node listens on (with /p2p/<id>), valid after start(). */
  listenAddrs(): string[] {
    return this.#libp2p.getMultiaddrs().map((a) => a.toString());
  }

  /** Start listening and dialling the validators. A stopped network cannot be restarted: create a new one. */
  async start(): Promise<void> {
    if (this.#running) return;
    if (this.#stopped) throw new P2PError(P2PErrorCode.notRunning, 'a stopped network cannot be restarted');
    const opts = { maxInboundStreams: this.#limits.maxInboundStreams, maxOutboundStreams: 16 };
    await this.#libp2p.handle(Protocol.consensus, (s, c) => this.#acceptStream('consensus', s, c), opts);
    if (this.#compact !== undefined) {
      await this.#libp2p.handle(
        Protocol.consensusCompact,
        (s, c) => this.#acceptStream('consensus', s, c),
        opts,
      );
      await this.#libp2p.handle(Protocol.txfetch, (s, c) => this.#serveTxFetch(s, c), opts);
    }
    await this.#libp2p.handle(Protocol.txgossip, (s, c) => this.#acceptStream('txgossip', s, c), opts);
    await this.#libp2p.handle(Protocol.sync, (s, c) => this.#serveSync(s, c), opts);
    await this.#libp2p.handle(Protocol.status, (s, c) => this.#serveStatusRequest(s, c), opts);
    this.#libp2p.addEventListener('peer:connect', (evt) => this.#onPeerConnect(evt.detail));
    this.#libp2p.addEventListener('peer:disconnect', (evt) => this.#onPeerDisconnect(evt.detail));
    // Running before libp2p starts: connections may arrive while start() is still resolving.
    this.#running = true;
    try {
      await this.#libp2p.start();
    } catch (err) {
      this.#running = false;
      throw listenFailure(err);
    }
    for (const p of this.#peers.values()) this.#maybeDial(p);
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#stopped = true;
    this.#compact?.stop();
    this.fault.cancelFrom(this.key);
    for (const p of this.#peers.values()) this.#retirePeer(p);
    await this.#libp2p.stop();
  }

  // ---- allowed peers and gating -------------------------------------------------------------------

  /**
   * Replace the allowed set (validator-set change). Connections to peers no longer allowed are closed and
   * their queues discarded; new validators with addresses are dialled.
   */
  updateAllowedPeers(peers: AllowedPeers): void {
    // Parse and validate everything first, so a bad entry leaves the current set untouched.
    const next = new Map<string, { entry: PeerEntry; role: PeerRole; addrs: Multiaddr[] }>();
    for (const [role, list] of [
      ['validator', peers.validators],
      ['observer', peers.observers ?? []],
    ] as const) {
      for (const entry of list) {
        const id = peerIdFromValidatorKey(entry.publicKey).toString();
        if (keyHex(entry.publicKey) === this.key) continue;
        // A key listed as both keeps the validator role.
        if (role === 'observer' && next.has(id)) continue;
        next.set(id, { entry, role, addrs: this.#parseAddrs(entry, id) });
      }
    }
    for (const [id, p] of this.#peers) {
      if (!next.has(id)) {
        this.#retirePeer(p);
        this.#peers.delete(id);
        this.#byKey.delete(p.info.key);
        for (const c of this.#libp2p.getConnections(p.peerId)) {
          c.close().catch((err: unknown) => c.abort(err instanceof Error ? err : new Error(String(err))));
        }
        this.#log.info('peer-removed', { peer: p.info.key });
      }
    }
    for (const [id, { entry, role, addrs }] of next) {
      const existing = this.#peers.get(id);
      if (existing !== undefined) {
        existing.info.role = role;
        existing.addrs = addrs;
        if (this.#running) this.#maybeDial(existing);
        continue;
      }
      const state = this.#newPeerState(entry, role, addrs);
      this.#peers.set(id, state);
      this.#byKey.set(state.info.key, id);
      if (this.#running) {
        if (this.#libp2p.getConnections(state.peerId).length > 0) this.#setConnected(state, true);
        this.#maybeDial(state);
      }
    }
  }

  /** Allowed peers: connected or not, misbehaviour score, and how many redials since the last stable connection. */
  peers(): (PeerInfo & { connected: boolean; score: number; redialAttempt: number })[] {
    return [...this.#peers.values()].map((p) => ({
      ...p.info,
      connected: this.#libp2p.getConnections(p.peerId).length > 0,
      score: this.#scores.score(p.info.key),
      redialAttempt: p.reconnectAttempt,
    }));
  }

  /** Gater: refuse and count a peer that is not allowed or is banned. Returns true to deny. */
  #refuse(peerId: PeerId, direction: 'inbound' | 'outbound'): boolean {
    const id = peerId.toString();
    const p = this.#peers.get(id);
    if (p === undefined) {
      this.#metrics.connections.refusedNotAllowed++;
      this.#log.warn('connection-refused', { reason: 'not-allowed', direction, peerId: id });
      return true;
    }
    if (this.#scores.isBanned(p.info.key)) {
      this.#metrics.connections.refusedBanned++;
      this.#log.warn('connection-refused', { reason: 'banned', direction, peer: p.info.key });
      return true;
    }
    return false;
  }

  #isRefused(id: string): boolean {
    const p = this.#peers.get(id);
    return p === undefined || this.#scores.isBanned(p.info.key);
  }

  // ---- consensus ----------------------------------------------------------------------------------

  onConsensus(handler: ConsensusHandler): void {
    this.#consensusHandler = handler;
  }

  /** Queue a consensus message for one peer (validator or observer). Never blocks. */
  sendConsensus(to: string, message: Uint8Array): void {
    this.#send('consensus', to, message);
  }

  /** Queue a consensus message for every validator except this node. */
  broadcastConsensus(message: Uint8Array): void {
    for (const p of this.#peers.values()) {
      if (p.info.role === 'validator') this.#send('consensus', p.info.key, message);
    }
  }

  // ---- transaction gossip -------------------------------------------------------------------------

  onTransactions(handler: TransactionsHandler): void {
    this.#txHandler = handler;
  }

  /**
   * Gossip encoded transactions to every validator that has not had them yet. `from` is the peer they
   * came from (never echoed back). Call it after the node has checked the transactions: the p2p layer
   * does not relay on its own, so invalid transactions stop at the first honest node.
   */
  gossipTransactions(txs: readonly Uint8Array[], from?: string): void {
    this.#gossip(txs, from, false);
  }

  /**
   * Sends transactions the node still holds again, whether or not they were sent before: gossip is best
   * effort (a frame lost on the way, a queue that overflowed), and a transaction that never reached the
   * primary would wait for a view change. `to` (a peer key) limits the copies to that validator: the
   * one that must propose them; otherwise every connected validator gets one. The caller bounds how
   * many and how often (the validator: pending ones due by the mempool's backoff, to the primary).
   */
  reofferTransactions(txs: readonly Uint8Array[], to?: string): void {
    this.#gossip(txs, undefined, true, to);
  }

  #gossip(txs: readonly Uint8Array[], from: string | undefined, again: boolean, to?: string): void {
    const ids = txs.map(leafKey);
    // Every transaction this node sends or relays may be in a PRE-PREPARE it receives compact.
    if (this.#compact !== undefined)
      for (let i = 0; i < txs.length; i++) this.#compact.rememberTx(ids[i]!, txs[i]!);
    if (from !== undefined) {
      const src = this.#peerByKey(from);
      if (src !== undefined) for (const id of ids) src.txSeen.add(id);
    }
    for (const p of this.#peers.values()) {
      if (p.info.role !== 'validator' || p.info.key === from) continue;
      if (to !== undefined && p.info.key !== to) continue;
      if (p.connectedAt === undefined) {
        // Not queued for a peer that is down: it may come back restarted and far behind, and a queue
        // of everything gossiped meanwhile (a 25 s outage at 300 tx/s: ~7,500 transactions, most of
        // them committed by then) would arrive all at once and cost it a decode and a signature check
        // each while it catches up (issue 9). On reconnection the node re-offers what is still pending.
        this.#drop('gossip-disconnected', txs.length);
        continue;
      }
      for (let i = 0; i < txs.length; i++) {
        if (!again && p.txSeen.has(ids[i]!)) continue;
        p.txSeen.add(ids[i]!);
        this.#send('txgossip', p.info.key, txs[i]!);
      }
    }
  }

  // ---- sync and status (request/response) ---------------------------------------------------------

  serveBlocks(provider: BlockProvider): void {
    this.#blockProvider = provider;
  }

  serveStatus(provider: StatusProvider): void {
    this.#statusProvider = provider;
  }

  /**
   * Ask `peer` for up to `count` blocks from `fromHeight`. The answer may be shorter (the peer's chain
   * ends, or one frame's worth); it is untrusted bytes: the node verifies every block and certificate.
   * The entries are views into the one response frame (megabytes during a catch-up, where copying each
   * entry out of it was a fifth of the syncing node's main thread): copy out what is kept.
   */
  async requestBlocks(peer: string, fromHeight: number, count: number): Promise<Uint8Array[]> {
    const msgs = await this.#request(
      peer,
      'sync',
      encodeBlockRangeRequest({ fromHeight, count }),
      { maxFrameBytes: this.#limits.syncMaxFrameBytes, maxMessagesPerFrame: this.#limits.syncMaxBlocks + 1 },
      undefined,
      { messageViews: true },
    );
    const head = msgs[0]!;
    if (head.byteLength !== 1 || head[0] !== SyncStatus.ok) {
      throw new P2PError(P2PErrorCode.remoteError, 'peer could not serve the block range');
    }
    return msgs.slice(1, 1 + count);
  }

  async requestStatus(peer: string): Promise<NodeStatus> {
    const msgs = await this.#request(peer, 'status', new Uint8Array(0), {
      maxFrameBytes: 256,
      maxMessagesPerFrame: 1,
    });
    return decodeNodeStatus(msgs[0]!);
  }

  // ---- observation --------------------------------------------------------------------------------

  onPeer(handler: PeerEventHandler): void {
    this.#peerHandler = handler;
  }

  /** A snapshot of every counter and gauge. */
  metrics(): P2PMetrics {
    const m = structuredClone(this.#metrics);
    m.connections.open = this.#libp2p.getConnections().length;
    m.queues = {};
    for (const p of this.#peers.values()) {
      m.queues[p.info.key] = {
        consensus: { messages: p.channels.consensus.queuedMessages, bytes: p.channels.consensus.queuedBytes },
        txgossip: { messages: p.channels.txgossip.queuedMessages, bytes: p.channels.txgossip.queuedBytes },
      };
    }
    m.faultPending = this.fault.pending();
    return m;
  }

  // ---- internals: sending -------------------------------------------------------------------------

  #send(protocol: StreamingProtocol, to: string, message: Uint8Array): void {
    // (+1: the kind byte a 1.1.0 consensus stream puts before each message.)
    const tag = protocol === 'consensus' && this.#compact !== undefined ? 1 : 0;
    if (frameBytesFor(message.byteLength + tag) > this.#frameLimits(protocol).maxFrameBytes) {
      // A local bug or a mis-sized limit, never the peer's fault. Sending is fire-and-forget for the
      // replica, so this is dropped and counted rather than thrown into the consensus loop.
      this.#drop('message-too-large', 1);
      this.#log.warn('message-too-large', {
        protocol,
        bytes: message.byteLength,
        code: P2PErrorCode.messageTooLarge,
      });
      return;
    }
    const p = this.#peerByKey(to);
    if (p === undefined || !this.#running) {
      this.#drop('unknown-peer', 1);
      return;
    }
    // A PRE-PREPARE with transactions is queued in both forms; the channel writes the compact one if the
    // peer's stream negotiated it (ADR 0129). Derived once per message, however many peers it goes to.
    let out: OutboundMessage = message;
    if (protocol === 'consensus' && this.#compact !== undefined) {
      const form = this.#compact.formFor(message);
      if (form !== undefined) out = { full: message, compact: form.bytes, byteLength: message.byteLength };
    }
    const dropped = this.fault.submit(this.key, to, () => {
      // The peer may have been removed while the message sat in a delay line.
      if (this.#peers.get(p.peerId.toString()) === p) p.channels[protocol].enqueue(out);
      else this.#drop('peer-removed', 1);
    });
    if (dropped !== undefined) this.#drop(dropped, 1);
  }

  #frameLimits(protocol: StreamingProtocol): FrameLimits {
    return {
      maxFrameBytes: protocol === 'consensus' ? this.#limits.maxFrameBytes : this.#limits.gossipMaxFrameBytes,
      maxMessagesPerFrame: this.#limits.maxMessagesPerFrame,
    };
  }

  #drop(reason: DropReason, n: number): void {
    this.#metrics.dropped[reason] += n;
  }

  #peerByKey(key: string): PeerState | undefined {
    const id = this.#byKey.get(key);
    return id === undefined ? undefined : this.#peers.get(id);
  }

  #newPeerState(entry: PeerEntry, role: PeerRole, addrs: Multiaddr[]): PeerState {
    const peerId = peerIdFromValidatorKey(entry.publicKey);
    const key = keyHex(entry.publicKey);
    const info: PeerInfo = { key, publicKey: entry.publicKey.slice(), role, peerId: peerId.toString() };
    const l = this.#limits;
    const channel = (protocol: StreamingProtocol) =>
      new OutboundChannel({
        name: protocol,
        batchBytes: l.batchBytes,
        maxMessagesPerFrame: l.maxMessagesPerFrame,
        queue: protocol === 'consensus' ? l.consensusQueue : l.gossipQueue,
        open: () => this.#openStream(peerId, protocol),
        onDropped: (n, reason) => this.#drop(reason, n),
        onFrameSent: (bytes, n) => {
          const c = this.#metrics.protocols[protocol];
          c.framesOut++;
          c.bytesOut += bytes;
          c.messagesOut += n;
        },
        log: this.#log,
        retryMs: l.reconnect.baseMs,
        ...(protocol === 'consensus'
          ? {
              onMessageSent: (m: Uint8Array, kind: number, tagged: boolean, twoForm: boolean) =>
                this.#countConsensusOut(m, kind, tagged, twoForm),
              ...(this.#compact !== undefined ? { compactProtocol: Protocol.consensusCompact } : {}),
            }
          : {}),
      });
    const bucket = (r: { perSecond: number; burst: number }) =>
      new TokenBucket({ capacity: r.burst, ratePerSecond: r.perSecond, now: this.#now });
    return {
      info,
      peerId,
      addrs,
      channels: { consensus: channel('consensus'), txgossip: channel('txgossip') },
      buckets: {
        consensus: bucket(l.consensusRate),
        txgossip: bucket(l.gossipRate),
        request: bucket(l.requestRate),
        txfetch: bucket(l.txFetchRate),
      },
      txSeen: new LruSet(l.gossipSeenPerPeer),
      reconnectAttempt: 0,
      connectedAt: undefined,
      disconnectedAt: undefined,
      reconnectTimer: undefined,
      dialing: false,
      inbound: {},
    };
  }

  #parseAddrs(entry: PeerEntry, id: string): Multiaddr[] {
    return (entry.addrs ?? []).map((a) => {
      try {
        const ma = multiaddr(a);
        return ma.getComponents().some((c) => c.name === 'p2p') ? ma : ma.encapsulate(`/p2p/${id}`);
      } catch (err) {
        throw new P2PError(P2PErrorCode.invalidConfig, `bad multiaddr ${a}`, { cause: err });
      }
    });
  }

  async #openStream(peerId: PeerId, protocol: StreamingProtocol): Promise<Stream> {
    const conn = this.#libp2p.getConnections(peerId).find((c) => c.status === 'open');
    if (conn === undefined) throw new P2PError(P2PErrorCode.notConnected, 'no open connection');
    // multistream-select takes the first id the peer supports: a peer of the 1.0.0 version answers
    // the compact id with "na" and gets every consensus message whole.
    const ids =
      protocol === 'consensus' && this.#compact !== undefined
        ? [Protocol.consensusCompact, Protocol.consensus]
        : Protocol[protocol];
    return conn.newStream(ids, { signal: AbortSignal.timeout(this.#limits.requestTimeoutMs) });
  }

  /** Per-kind counters of the consensus messages written, and the compact encoding's sent counters. */
  #countConsensusOut(m: Uint8Array, messageKind: number, tagged: boolean, twoForm: boolean): void {
    const kind = messageKind === MessageKind.compactPrePrepare ? 'prePrepareCompact' : consensusKind(m);
    const c = this.#metrics.consensusOut[kind];
    c.messages++;
    c.bytes += m.byteLength + MESSAGE_OVERHEAD_BYTES + (tagged ? 1 : 0);
    if (kind === 'prePrepareCompact') this.#metrics.compact.sent++;
    else if (twoForm) this.#metrics.compact.sentFull++;
  }

  /** Discard a peer's queues and timers (removed from the allowed set, or node stopping). */
  #retirePeer(p: PeerState): void {
    if (p.reconnectTimer !== undefined) clearTimeout(p.reconnectTimer);
    p.reconnectTimer = undefined;
    for (const proto of STREAMING_PROTOCOLS) this.#drop('peer-removed', p.channels[proto].close());
  }

  // ---- internals: connections and reconnection ----------------------------------------------------

  #onPeerConnect(peerId: PeerId): void {
    const p = this.#peers.get(peerId.toString());
    if (p === undefined) return;
    const now = this.#now();
    // Consensus messages queued through a short outage are still useful (the peer completes the
    // slots they belong to). After a long one they are stale: the peer, often a restarted process,
    // catches up by block sync, and a flood of old PRE-PREPAREs, each decoded and its transactions
    // checked, would only slow that down (issue 9: ~15 % of a catching-up node's CPU). PBFT recovers
    // anything dropped here by retransmission, checkpoints and state transfer (§4.3, §4.5).
    if (p.disconnectedAt !== undefined && now - p.disconnectedAt > this.#limits.consensusOutageKeepMs) {
      this.#drop('consensus-stale', p.channels.consensus.discardQueued());
    }
    p.disconnectedAt = undefined;
    p.connectedAt = now;
    if (p.reconnectTimer !== undefined) clearTimeout(p.reconnectTimer);
    p.reconnectTimer = undefined;
    this.#setConnected(p, true);
  }

  #onPeerDisconnect(peerId: PeerId): void {
    const p = this.#peers.get(peerId.toString());
    if (p === undefined) return;
    // What a peer "has seen" is only known for one connection: it may come back restarted with an
    // empty mempool. Forget it, and drop gossip still queued for it; the node re-offers its pending
    // transactions when the peer reconnects (and each goes out once per connection). Consensus
    // messages stay queued (bounded): they are still useful after a short outage.
    p.txSeen = new LruSet(this.#limits.gossipSeenPerPeer);
    this.#drop('gossip-disconnected', p.channels.txgossip.discardQueued());
    // The backoff restarts only after a connection that lasted. A peer that refuses us right after
    // the handshake looks like a successful dial here (libp2p negotiates the muxer inside noise), so
    // resetting on every connect would redial it every baseMs forever.
    const lasted =
      p.connectedAt !== undefined && this.#now() - p.connectedAt >= this.#limits.reconnect.stableMs;
    if (lasted) p.reconnectAttempt = 0;
    else this.#metrics.connections.shortLived++;
    p.connectedAt = undefined;
    p.disconnectedAt = this.#now();
    this.#setConnected(p, false);
    if (this.#running) this.#scheduleDial(p);
  }

  #setConnected(p: PeerState, connected: boolean): void {
    if (!this.#running) return;
    for (const proto of STREAMING_PROTOCOLS) p.channels[proto].setConnected(connected);
    this.#log.info(connected ? 'peer-connected' : 'peer-disconnected', { peer: p.info.key });
    try {
      this.#peerHandler?.(connected ? 'connect' : 'disconnect', p.info);
    } catch (err) {
      this.#log.warn('peer-handler-threw', { error: String(err) });
    }
  }

  /** Dial a validator with addresses now, unless connected, dialling, banned or already scheduled. */
  #maybeDial(p: PeerState): void {
    if (!this.#running || p.info.role !== 'validator' || p.addrs.length === 0) return;
    if (p.dialing || p.reconnectTimer !== undefined) return;
    if (this.#libp2p.getConnections(p.peerId).length > 0) return;
    if (this.#scores.isBanned(p.info.key)) {
      this.#scheduleDial(p);
      return;
    }
    p.dialing = true;
    this.#libp2p.dial(p.addrs, { signal: AbortSignal.timeout(this.#limits.requestTimeoutMs) }).then(
      () => {
        p.dialing = false;
        this.#metrics.connections.dials++;
      },
      (err: unknown) => {
        p.dialing = false;
        if (!this.#running || this.#peers.get(p.peerId.toString()) !== p) return;
        this.#metrics.connections.dialFailures++;
        this.#log.info('dial-failed', { peer: p.info.key, attempt: p.reconnectAttempt, error: String(err) });
        this.#scheduleDial(p);
      },
    );
  }

  /** Exponential backoff with jitter before the next dial (backoff.ts). */
  #scheduleDial(p: PeerState): void {
    if (!this.#running || p.info.role !== 'validator' || p.addrs.length === 0) return;
    if (p.reconnectTimer !== undefined) return;
    const delay = backoffDelay(this.#limits.reconnect, p.reconnectAttempt, this.#rng);
    p.reconnectAttempt++;
    p.reconnectTimer = setTimeout(() => {
      p.reconnectTimer = undefined;
      if (this.#peers.get(p.peerId.toString()) === p) this.#maybeDial(p);
    }, delay);
  }

  // ---- internals: receiving -----------------------------------------------------------------------

  #acceptStream(protocol: StreamingProtocol, stream: Stream, conn: Connection): void {
    const p = this.#peers.get(conn.remotePeer.toString());
    if (p === undefined) {
      // Allowed when the connection was made, removed since: updateAllowedPeers is closing it.
      stream.abort(new P2PError(P2PErrorCode.peerNotAllowed, 'peer not allowed'));
      return;
    }
    if (p.info.role === 'observer') {
      this.#drop('observer-not-voting', 1);
      stream.abort(new P2PError(P2PErrorCode.peerNotAllowed, `observers may not use ${protocol}`));
      return;
    }
    // One inbound stream per protocol per peer, the newest (docs/p2p.md, "Protocols"): a peer writes
    // each protocol on one long-lived stream, and opens another only when the old one's connection is
    // going away. Every stream buffers up to a frame, so without this a peer could hold a partial frame
    // of up to maxFrameBytes on each of maxInboundStreams streams of every connection it opens.
    const previous = p.inbound[protocol];
    if (previous !== undefined && previous !== stream) {
      this.#metrics.connections.streamsSuperseded++;
      previous.abort(new P2PError(P2PErrorCode.streamSuperseded, `a newer ${protocol} stream replaced it`));
    }
    p.inbound[protocol] = stream;
    stream.addEventListener('close', () => {
      if (p.inbound[protocol] === stream) delete p.inbound[protocol];
    });
    const counters = this.#metrics.protocols[protocol];
    const decoder = new FrameDecoder(this.#frameLimits(protocol));
    // Compact PRE-PREPAREs are understood only on the stream id that announces them.
    const compact = this.#compact !== undefined && stream.protocol === Protocol.consensusCompact;
    let failed = false;
    stream.addEventListener('message', (evt) => {
      // After a bad frame the stream is being torn down; data already in flight is ignored (and not
      // penalised a second time).
      if (failed) return;
      counters.bytesIn += evt.data.byteLength;
      const { batches, error } = decoder.push(evt.data);
      for (const batch of batches) this.#deliverBatch(protocol, p, batch, compact);
      if (error !== undefined) {
        failed = true;
        this.#onInvalidFrame(p, stream, error);
      }
    });
  }

  #deliverBatch(protocol: StreamingProtocol, p: PeerState, batch: Uint8Array[], compact: boolean): void {
    const counters = this.#metrics.protocols[protocol];
    counters.framesIn++;
    counters.messagesIn += batch.length;
    const blocked = this.fault.blocked(p.info.key, this.key);
    if (blocked !== undefined) {
      this.#drop(blocked, batch.length);
      return;
    }
    const granted = p.buckets[protocol].take(batch.length);
    if (granted < batch.length) {
      this.#drop('rate-limited', batch.length - granted);
      this.#penalise(p, this.#limits.score.rateLimitPenalty, 'rate-limited');
      batch = batch.slice(0, granted);
      if (batch.length === 0) return;
    }
    if (protocol === 'consensus') {
      const h = this.#consensusHandler;
      if (h === undefined) return;
      // One throwing message must not cost the rest of the batch.
      const relay = this.#compact;
      for (const m of batch) {
        if (!compact || relay === undefined) {
          this.#callHandler(protocol, p, 1, () => h(p.info.key, m));
          continue;
        }
        // /vigil/consensus/1.1.0: a kind byte, then a PBFT message or a compact PRE-PREPARE.
        const kind = m[0];
        const payload = m.subarray(1);
        if (kind === MessageKind.pbft) this.#callHandler(protocol, p, 1, () => h(p.info.key, payload));
        else if (kind === MessageKind.compactPrePrepare)
          this.#callHandler(protocol, p, 1, () => relay.receive(p.info.key, payload));
        else
          relay.refuse(
            p.info.key,
            new CompactError(P2PErrorCode.compactMalformed, `unknown message kind ${String(kind)}`),
          );
      }
    } else {
      for (const tx of batch) {
        const key = leafKey(tx);
        p.txSeen.add(key);
        this.#compact?.rememberTx(key, tx);
      }
      const h = this.#txHandler;
      if (h !== undefined) this.#callHandler(protocol, p, batch.length, () => h(p.info.key, batch));
    }
  }

  #callHandler(protocol: StreamingProtocol, p: PeerState, messages: number, call: () => void): void {
    try {
      call();
    } catch (err) {
      this.#drop('handler-error', messages);
      this.#log.warn('handler-threw', { protocol, peer: p.info.key, error: String(err) });
    }
  }

  #onInvalidFrame(p: PeerState, stream: Stream, error: FrameError): void {
    const m = this.#metrics;
    m.invalidFrames[error.code] = (m.invalidFrames[error.code] ?? 0) + 1;
    m.connections.disconnectedForInvalidFrames++;
    this.#log.warn('invalid-frame', { peer: p.info.key, code: error.code, error: error.message });
    this.#penalise(p, this.#limits.score.invalidFramePenalty, error.code);
    stream.abort(error);
    // A peer that cannot frame correctly is disconnected entirely (all connections); if still allowed
    // and not banned, it is redialled with backoff like any lost validator.
    for (const c of this.#libp2p.getConnections(p.peerId)) c.abort(error);
  }

  #compactOffence(peer: string, err: CompactError): void {
    const p = this.#peerByKey(peer);
    if (p === undefined) return;
    this.#log.warn('compact-refused', { peer, code: err.code, error: err.message });
    this.#penalise(p, this.#limits.score.compactPenalty, err.code);
  }

  #penalise(p: PeerState, amount: number, reason: string): void {
    if (this.#scores.penalise(p.info.key, amount)) {
      this.#metrics.connections.bans++;
      this.#log.warn('peer-banned', { peer: p.info.key, reason, banMs: this.#limits.score.banMs });
      for (const c of this.#libp2p.getConnections(p.peerId))
        c.abort(new P2PError(P2PErrorCode.peerNotAllowed, 'banned'));
    }
  }

  // ---- internals: request/response ----------------------------------------------------------------

  async #request(
    peer: string,
    protocol: RequestProtocol,
    body: Uint8Array,
    limits: FrameLimits,
    timeoutMs: number = this.#limits.requestTimeoutMs,
    decode: DecodeOptions = {},
  ): Promise<Uint8Array[]> {
    if (!this.#running) throw new P2PError(P2PErrorCode.notRunning, 'network is not running');
    const p = this.#peerByKey(peer);
    if (p === undefined) throw new P2PError(P2PErrorCode.peerNotAllowed, `unknown peer ${peer}`);
    const blocked = this.fault.blocked(this.key, peer) ?? this.fault.blocked(peer, this.key);
    if (blocked !== undefined) {
      this.#drop(blocked, 1);
      throw new P2PError(P2PErrorCode.faultInjected, `link to ${peer} is ${blocked}`);
    }
    const signal = AbortSignal.timeout(timeoutMs);
    const conn = this.#libp2p.getConnections(p.peerId).find((c) => c.status === 'open');
    if (conn === undefined) throw new P2PError(P2PErrorCode.notConnected, `not connected to ${peer}`);
    let stream: Stream;
    try {
      stream = await conn.newStream(Protocol[protocol], { signal });
    } catch (err) {
      if (signal.aborted) throw new P2PError(P2PErrorCode.timeout, 'opening the request stream timed out');
      throw new P2PError(P2PErrorCode.notConnected, `could not open ${protocol} stream`, { cause: err });
    }
    try {
      const frame = encodeFrame([body]);
      stream.send(frame);
      this.#countOut(protocol, frame.byteLength, 1);
      const msgs = await this.#readCounted(protocol, stream, limits, signal, decode);
      await stream.close().catch(() => {});
      return msgs;
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  async #readCounted(
    protocol: ProtocolName,
    stream: Stream,
    limits: FrameLimits,
    signal: AbortSignal,
    decode: DecodeOptions = {},
  ): Promise<Uint8Array[]> {
    const msgs = await readOneFrame(stream, limits, signal, decode);
    const c = this.#metrics.protocols[protocol];
    c.framesIn++;
    c.messagesIn += msgs.length;
    c.bytesIn += msgs.reduce((n, m) => n + m.byteLength + MESSAGE_OVERHEAD_BYTES, BATCH_HEADER_BYTES + 4);
    return msgs;
  }

  #countOut(protocol: ProtocolName, bytes: number, messages: number): void {
    const c = this.#metrics.protocols[protocol];
    c.framesOut++;
    c.bytesOut += bytes;
    c.messagesOut += messages;
  }

  /** Common checks of an inbound request stream; returns the peer or undefined after aborting it. */
  async #readRequest(
    protocol: RequestProtocol,
    stream: Stream,
    conn: Connection,
    limits: FrameLimits = REQUEST_FRAME_LIMITS,
  ): Promise<[PeerState, Uint8Array] | undefined> {
    const p = this.#peers.get(conn.remotePeer.toString());
    if (p === undefined || this.fault.blocked(p.info.key, this.key) !== undefined) {
      stream.abort(new P2PError(P2PErrorCode.peerNotAllowed, 'refused'));
      return undefined;
    }
    if (p.buckets[protocol === 'txfetch' ? 'txfetch' : 'request'].take(1) < 1) {
      this.#drop('rate-limited', 1);
      this.#penalise(p, this.#limits.score.rateLimitPenalty, 'request-rate');
      stream.abort(new P2PError(P2PErrorCode.peerNotAllowed, 'request rate exceeded'));
      return undefined;
    }
    try {
      const msgs = await this.#readCounted(
        protocol,
        stream,
        limits,
        AbortSignal.timeout(this.#limits.requestTimeoutMs),
      );
      return [p, msgs[0]!];
    } catch (err) {
      if (err instanceof FrameError) this.#onInvalidFrame(p, stream, err);
      else stream.abort(err instanceof Error ? err : new Error(String(err)));
      return undefined;
    }
  }

  #reply(protocol: ProtocolName, stream: Stream, messages: Uint8Array[]): void {
    const frame = encodeFrame(messages);
    try {
      stream.send(frame);
      this.#countOut(protocol, frame.byteLength, messages.length);
      stream.close().catch(() => {});
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  }

  async #serveSync(stream: Stream, conn: Connection): Promise<void> {
    const got = await this.#readRequest('sync', stream, conn);
    if (got === undefined) return;
    const [p, body] = got;
    let req: BlockRangeRequest;
    try {
      req = decodeBlockRangeRequest(body, this.#limits.syncMaxBlocks);
    } catch (err) {
      this.#log.info('bad-sync-request', { peer: p.info.key, error: String(err) });
      this.#reply('sync', stream, [Uint8Array.of(SyncStatus.error)]);
      return;
    }
    let blocks: Uint8Array[];
    try {
      blocks = this.#blockProvider === undefined ? [] : await this.#blockProvider(p.info.key, req);
    } catch (err) {
      this.#log.warn('block-provider-threw', { error: String(err) });
      this.#reply('sync', stream, [Uint8Array.of(SyncStatus.error)]);
      return;
    }
    // Return the longest prefix that fits one frame: the requester asks again from where it ended.
    const out: Uint8Array[] = [Uint8Array.of(SyncStatus.ok)];
    let size = BATCH_HEADER_BYTES + MESSAGE_OVERHEAD_BYTES + 1;
    for (const b of blocks.slice(0, req.count)) {
      if (size + MESSAGE_OVERHEAD_BYTES + b.byteLength > this.#limits.syncMaxFrameBytes) break;
      out.push(b);
      size += MESSAGE_OVERHEAD_BYTES + b.byteLength;
    }
    this.#reply('sync', stream, out);
  }

  async #serveStatusRequest(stream: Stream, conn: Connection): Promise<void> {
    const got = await this.#readRequest('status', stream, conn);
    if (got === undefined) return;
    // A status request is one empty message (docs/p2p.md): anything else is not this protocol.
    if (got[1].byteLength !== 0) {
      this.#log.info('bad-status-request', { peer: got[0].info.key, bytes: got[1].byteLength });
      stream.abort(new P2PError(P2PErrorCode.badRequest, 'a status request is one empty message'));
      return;
    }
    const provider = this.#statusProvider;
    if (provider === undefined) {
      stream.abort(new P2PError(P2PErrorCode.remoteError, 'no status provider'));
      return;
    }
    let encoded: Uint8Array;
    try {
      encoded = encodeNodeStatus(provider());
    } catch (err) {
      this.#log.warn('status-provider-threw', { error: String(err) });
      stream.abort(new P2PError(P2PErrorCode.remoteError, 'status unavailable'));
      return;
    }
    this.#reply('status', stream, [encoded]);
  }

  /** One txfetch round trip (compact-relay.ts): the single response message. */
  async #txFetch(peer: string, body: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const msgs = await this.#request(
      peer,
      'txfetch',
      body,
      // A response is at most one block's transactions, or the whole PRE-PREPARE: a consensus frame.
      { maxFrameBytes: this.#limits.maxFrameBytes, maxMessagesPerFrame: 1 },
      timeoutMs,
    );
    return msgs[0]!;
  }

  async #serveTxFetch(stream: Stream, conn: Connection): Promise<void> {
    const relay = this.#compact;
    if (relay === undefined) {
      stream.abort(new P2PError(P2PErrorCode.peerNotAllowed, 'txfetch is not served'));
      return;
    }
    const limits = this.#limits.compact === false ? { maxTxs: 1 } : this.#limits.compact;
    const got = await this.#readRequest('txfetch', stream, conn, {
      maxFrameBytes: frameBytesFor(maxTxFetchRequestBytes(limits)),
      maxMessagesPerFrame: 1,
    });
    if (got === undefined) return;
    const [p, body] = got;
    let response: Uint8Array;
    try {
      response = relay.serve(p.info.key, body);
    } catch (err) {
      this.#log.warn('txfetch-serve-threw', { error: String(err) });
      stream.abort(new P2PError(P2PErrorCode.remoteError, 'txfetch unavailable'));
      return;
    }
    this.#reply('txfetch', stream, [response]);
  }
}

/**
 * libp2p reports an address it could not bind as an UnsupportedListenAddressesError whose message ends
 * in each address's cause with its stack trace ("  /ip4/…/tcp/26601: Error: listen EADDRINUSE: …\n
 * at …"): the node printed that whole trace to an operator. It becomes P2P_LISTEN_FAILED naming each
 * address and its cause, one line; anything else passes through unchanged.
 */
export function listenFailure(err: unknown): unknown {
  if (!(err instanceof Error) || err.name !== 'UnsupportedListenAddressesError') return err;
  const causes = err.message
    .split('\n')
    .map((l) => /^\s+(\/\S+): (?:[A-Za-z]*Error: )?(.+)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => `${m[1]} (${m[2]!.trim()})`);
  return new P2PError(
    P2PErrorCode.listenFailed,
    `cannot listen on ${causes.length > 0 ? causes.join(', ') : 'the configured p2p addresses'}`,
    { cause: err },
  );
}
