// @vigil/consensus/pbft: the PBFT replica as a pure state machine (docs/consensus.md).
export { Replica, type ReplicaStats, Timers } from './replica.ts';
export { maxFaulty, primaryOf, quorumSize } from './quorum.ts';
export { DropReason, PbftConfigError, PbftDecodeError, PbftRejectError, PbftRestoreError } from './errors.ts';
export { RecordKey } from './records.ts';
export * from './messages.ts';
export * from './types.ts';
