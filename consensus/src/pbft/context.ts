// The fixed parameters every protocol check needs, derived once from ReplicaConfig.

import type { Authenticator } from './auth.ts';
import { PbftConfigError } from './errors.ts';
import type { MessageLimits } from './messages.ts';
import { maxFaulty, quorumSize } from './quorum.ts';
import type { ReplicaConfig, ReplicaMutations } from './types.ts';

export interface ProtocolContext {
  chainId: string;
  validators: readonly Uint8Array[];
  n: number;
  f: number;
  /** The quorum in force (quorumSize(n), unless a test-only mutation overrides it). */
  q: number;
  checkpointInterval: number;
  windowSize: number;
  maxBlockTxs: number;
  maxBlockBytes: number;
  limits: MessageLimits;
  auth: Authenticator;
  genesisStateRoot: Uint8Array;
  genesisTimestamp: number;
  mutations: ReplicaMutations;
  /**
   * Epochs (ADR 0015): `validators`, n, f and q above are those of one epoch, whose heights are
   * [epochStart, epochLast]. Absent means the single genesis epoch (heights 1..infinity).
   */
  epochStart?: number;
  /** Last height of this epoch, when a later epoch is known (else unbounded). */
  epochLast?: number;
  /** The context of the epoch containing a height, when known (checkpoint proofs name other epochs). */
  contextAt?: (height: number) => ProtocolContext | undefined;
}

export function validateConfig(c: ReplicaConfig): void {
  const n = c.validators.length;
  if (n < 1) throw new PbftConfigError('at least one validator is required');
  if (c.selfKey !== undefined) {
    if (!(c.selfKey instanceof Uint8Array) || c.selfKey.length !== 32)
      throw new PbftConfigError('selfKey is not 32 bytes');
  } else if (!Number.isSafeInteger(c.self) || c.self < 0 || c.self >= n) {
    throw new PbftConfigError(`self ${c.self} is not a validator index`);
  }
  for (const [i, k] of c.validators.entries()) {
    if (!(k instanceof Uint8Array) || k.length !== 32)
      throw new PbftConfigError(`validator ${i} key is not 32 bytes`);
  }
  const pos = (x: number, what: string) => {
    if (!Number.isSafeInteger(x) || x < 1) throw new PbftConfigError(`${what} must be a positive integer`);
  };
  pos(c.checkpointInterval, 'checkpointInterval');
  pos(c.windowSize, 'windowSize');
  pos(c.maxBlockTxs, 'maxBlockTxs');
  pos(c.maxBlockBytes, 'maxBlockBytes');
  pos(c.viewChangeTimeoutMs, 'viewChangeTimeoutMs');
  if (!Number.isSafeInteger(c.maxClockSkewMs) || c.maxClockSkewMs < 0) {
    throw new PbftConfigError('maxClockSkewMs must be a non-negative integer');
  }
  if (c.windowSize % c.checkpointInterval !== 0) {
    throw new PbftConfigError('windowSize must be a multiple of checkpointInterval (PBFT §4.3)');
  }
  if (c.genesisStateRoot !== undefined && c.genesisStateRoot.length !== 32) {
    throw new PbftConfigError('genesisStateRoot must be 32 bytes');
  }
  const q = c.mutations?.quorumOverride;
  if (q !== undefined && (!Number.isSafeInteger(q) || q < 1 || q > n)) {
    throw new PbftConfigError('mutations.quorumOverride must be in 1..n');
  }
  void maxFaulty(n);
  void quorumSize(n);
}
