// A Byzantine validator for security tests: it holds one validator's real key (so the connection
// gater admits it, p2p ADR 0051) but speaks the consensus protocol dishonestly. It is built from the
// same parts as an honest node (p2p's identity and frame codec, PBFT's message codec and
// createMessage), driven by hand instead of by a Replica, so a test can send exactly the hostile
// input it wants: forged signatures, equivocating PRE-PREPAREs, messages for future views and far
// sequence numbers, floods, and frames that are oversized or malformed.
//
// It never listens on the victim validator's address: it dials the honest validators itself, and
// drains (and counts) whatever they send back so that their outbound streams stay healthy.
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import {
  blockBytesOf,
  type Commit,
  createMessage,
  MessageType,
  type PrePrepare,
  type Prepare,
} from '@vigil/consensus/pbft';
import {
  type Block,
  type BlockHeader,
  blockHash,
  merkleRoot,
  type Signer,
  signerFromSeed,
} from '@vigil/consensus/wire';
import { encodeFrame, identityFromSeed, peerIdFromValidatorKey, Protocol } from '@vigil/p2p';
import { createLibp2p, type Libp2p } from 'libp2p';

type Stream = Awaited<ReturnType<Libp2p['dialProtocol']>>;

export class MaliciousPeerError extends Error {
  readonly code: 'UNKNOWN_TARGET' | 'NOT_CONNECTED' | 'WRITE_TIMEOUT';
  constructor(code: MaliciousPeerError['code'], message: string) {
    super(message);
    this.name = 'MaliciousPeerError';
    this.code = code;
  }
}

/** An honest validator the attacker talks to. */
export interface AttackTarget {
  /** Validator index in genesis. */
  index: number;
  publicKey: Uint8Array;
  /** Its p2p multiaddr without /p2p (e.g. /ip4/127.0.0.1/tcp/26601). */
  addr: string;
}

export interface MaliciousPeerOptions {
  chainId: string;
  /** The 32-byte seed of the validator key the attacker holds. */
  seed: Uint8Array;
  /** That validator's index in genesis. */
  self: number;
  targets: readonly AttackTarget[];
  /** Deadline for a write to drain (a closed stream never drains). */
  writeTimeoutMs?: number;
}

/** The fields of an empty block the attacker proposes (it needs the chain tip to build a valid one). */
export interface BlockSpec {
  chainId: string;
  height: number;
  view: number;
  prevHash: Uint8Array;
  stateRoot: Uint8Array;
  stateHeight: number;
  proposer: number;
  timestamp: number;
  txs?: Uint8Array[];
}

export function buildBlock(s: BlockSpec): Block {
  const txs = s.txs ?? [];
  const header: BlockHeader = {
    version: 1,
    chainId: s.chainId,
    height: s.height,
    view: s.view,
    prevHash: s.prevHash,
    txRoot: merkleRoot(txs),
    txCount: txs.length,
    stateRoot: s.stateRoot,
    stateHeight: s.stateHeight,
    proposer: s.proposer,
    timestamp: s.timestamp,
  };
  return { header, txs };
}

/** A 4-byte frame prefix announcing a 4 GiB body: above every node's maxFrameBytes (p2p limits.ts). */
export function oversizedFramePrefix(): Uint8Array {
  return Uint8Array.from([0xff, 0xff, 0xff, 0xfe]);
}

/** A frame whose length is fine but whose batch header claims frame version 9 (only 1 exists). */
export function badVersionFrame(): Uint8Array {
  const f = encodeFrame([new Uint8Array(8)]);
  f[4] = 9;
  return f;
}

/** A frame whose batch claims more messages than its body holds. */
export function truncatedBatchFrame(): Uint8Array {
  const f = encodeFrame([new Uint8Array(8)]);
  new DataView(f.buffer).setUint32(5, 3);
  return f;
}

export class MaliciousPeer {
  readonly chainId: string;
  readonly self: number;
  readonly signer: Signer;
  readonly #node: Libp2p;
  readonly #targets: Map<number, AttackTarget>;
  readonly #streams = new Map<number, Stream>();
  readonly #writeTimeoutMs: number;
  /** Bytes the honest validators sent us (PBFT traffic, gossip): proof that they treat us as a peer. */
  bytesReceived = 0;

  private constructor(o: MaliciousPeerOptions, node: Libp2p) {
    this.chainId = o.chainId;
    this.self = o.self;
    this.signer = signerFromSeed(o.seed);
    this.#node = node;
    this.#targets = new Map(o.targets.map((t) => [t.index, t]));
    this.#writeTimeoutMs = o.writeTimeoutMs ?? 10_000;
  }

  static async start(o: MaliciousPeerOptions): Promise<MaliciousPeer> {
    const id = await identityFromSeed(o.seed);
    const node = await createLibp2p({
      privateKey: id.privateKey,
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
    });
    const peer = new MaliciousPeer(o, node);
    const drain = (stream: Stream) => {
      stream.addEventListener('message', (evt) => {
        peer.bytesReceived += evt.data.byteLength;
      });
    };
    for (const p of [Protocol.consensus, Protocol.txgossip]) {
      await node.handle(p, (stream) => drain(stream), { maxInboundStreams: 16 });
    }
    return peer;
  }

  #target(index: number): AttackTarget {
    const t = this.#targets.get(index);
    if (t === undefined) throw new MaliciousPeerError('UNKNOWN_TARGET', `no target validator ${index}`);
    return t;
  }

  /** Opens (or reopens) a consensus stream to validator `index`. Throws if the gater refuses us. */
  async connect(index: number): Promise<void> {
    const t = this.#target(index);
    const peerId = peerIdFromValidatorKey(t.publicKey).toString();
    const stream = await this.#node.dialProtocol(multiaddr(`${t.addr}/p2p/${peerId}`), Protocol.consensus, {
      signal: AbortSignal.timeout(this.#writeTimeoutMs),
    });
    this.#streams.set(index, stream);
  }

  /** Whether any libp2p connection to validator `index` is open. */
  connected(index: number): boolean {
    const peerId = peerIdFromValidatorKey(this.#target(index).publicKey);
    return this.#node.getConnections(peerId).some((c) => c.status === 'open');
  }

  /** Writes bytes as they are (no framing) and waits for the stream to accept them. */
  async sendRaw(index: number, bytes: Uint8Array): Promise<void> {
    const stream = this.#streams.get(index);
    if (stream === undefined || stream.status !== 'open' || !this.connected(index)) {
      throw new MaliciousPeerError('NOT_CONNECTED', `no open consensus stream to validator ${index}`);
    }
    if (stream.send(bytes)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new MaliciousPeerError('WRITE_TIMEOUT', 'stream did not drain')),
        this.#writeTimeoutMs,
      );
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      stream.addEventListener('drain', done, { once: true });
      stream.addEventListener('close', done, { once: true });
    });
  }

  /** Sends well-framed consensus messages (one frame per `perFrame` messages). */
  async send(index: number, messages: readonly Uint8Array[], perFrame = 512): Promise<void> {
    for (let i = 0; i < messages.length; i += perFrame) {
      await this.sendRaw(index, encodeFrame(messages.slice(i, i + perFrame)));
    }
  }

  /** The same message `count` times: a replay flood. */
  async flood(index: number, message: Uint8Array, count: number, perFrame = 1_000): Promise<void> {
    const frame = encodeFrame(Array.from({ length: Math.min(perFrame, count) }, () => message));
    let sent = 0;
    for (; sent + perFrame <= count; sent += perFrame) await this.sendRaw(index, frame);
    if (sent < count)
      await this.send(
        index,
        Array.from({ length: count - sent }, () => message),
      );
  }

  // ---- messages ----------------------------------------------------------------------------------

  /** A correctly signed PREPARE from the held key (the replica decides whether it is acceptable). */
  prepare(view: number, height: number, hash: Uint8Array): Uint8Array {
    return createMessage<Prepare>(this.chainId, this.signer, {
      type: MessageType.prepare,
      view,
      height,
      blockHash: hash,
      replica: this.self,
    }).bytes;
  }

  /** A correctly signed COMMIT from the held key. */
  commit(view: number, height: number, hash: Uint8Array): Uint8Array {
    return createMessage<Commit>(this.chainId, this.signer, {
      type: MessageType.commit,
      view,
      height,
      blockHash: hash,
      replica: this.self,
    }).bytes;
  }

  /**
   * A PREPARE claiming to be from `replica` with a signature that is not one: the held key's signature
   * over different content (a valid ed25519 signature, just not for this message and key).
   */
  forgedPrepare(view: number, height: number, hash: Uint8Array, replica: number): Uint8Array {
    const signed = createMessage<Prepare>(this.chainId, this.signer, {
      type: MessageType.prepare,
      view,
      height: height + 1,
      blockHash: hash,
      replica,
    });
    // Re-encode with the signature of the (height + 1) message: same shape, wrong signature.
    const other = createMessage<Prepare>(this.chainId, this.signer, {
      type: MessageType.prepare,
      view,
      height,
      blockHash: hash,
      replica,
    });
    const bytes = other.bytes.slice();
    const at = indexOfBytes(bytes, other.message.signature);
    bytes.set(signed.message.signature, at);
    return bytes;
  }

  /** A signed PRE-PREPARE for `block` from the held key. */
  prePrepare(view: number, block: Block): { bytes: Uint8Array; hash: Uint8Array } {
    const hash = blockHash(block.header);
    const { bytes } = createMessage<PrePrepare>(this.chainId, this.signer, {
      type: MessageType.prePrepare,
      view,
      height: block.header.height,
      blockHash: hash,
      replica: this.self,
      block,
      blockBytes: blockBytesOf(block),
    });
    return { bytes, hash };
  }

  async stop(): Promise<void> {
    await this.#node.stop();
  }
}

function indexOfBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = hay.length - needle.length; i >= 0; i--) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new RangeError('needle not found');
}
