// @vigil/sensor-client/browser: the parts that run in a browser (or any JS runtime with fetch and Web
// Crypto): keys, building and signing transactions, the API client, clock-skew estimation, the SSE
// parser, and inclusion-proof verification. No Node built-ins anywhere below this file; browser.test.ts
// walks the import graph to keep it that way.
export {
  type AccountInfo,
  NodeClient,
  type NodeClientOptions,
  type NodeStatus,
  type ProofOutcome,
  type ProofResponse,
  RETRYABLE_PROBLEMS,
  type StateProofResponse,
  type SubmitResult,
  type TxStatus,
  type TxStatusInfo,
} from './sdk/api-client.ts';
export { accountNonceKeyHex, type ProvenAccountNonce, verifyAccountNonce } from './sdk/account-proof.ts';
export { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './sdk/backoff.ts';
export { cborItemEnd, splitCborSequence } from './sdk/cbor-seq.ts';
export { estimateSkew, isSkewBeyond, type SkewEstimate } from './sdk/clock.ts';
export {
  checkTrustedSets,
  type GenesisTrust,
  type TrustedValidatorSet,
  trustedSetFromGenesis,
  trustedSetsAt,
  trustFromGenesis,
  type VerifiedOutcome,
  verifyCommitOutcome,
  verifyCommitProof,
} from './sdk/commit-trust.ts';
export { SdkError, SdkErrorCode } from './sdk/errors.ts';
// Readings are written by kind (ReadingKind.heartRate is 1) in each kind's wire unit and scale
// (readingKindSpec): a device maker should not have to reach into @vigil/consensus for them.
export { ReadingKind, readingKindSpec } from '@vigil/consensus/vitals/index.ts';
export { generateSeed, SEED_BYTES, signerForSeed } from './sdk/keys.ts';
export {
  proofCoversBytes,
  type VerifiedInclusion,
  type VerifyProofOptions,
  verifyInclusionProof,
} from './sdk/proof.ts';
export { type EnrolResult, enrolDevice } from './sdk/registration.ts';
export { type SseEvent, SseParser } from './sdk/sse.ts';
export {
  buildBindDevice,
  buildRegisterPatient,
  buildRevokeDevice,
  buildRotateDeviceKey,
  buildSubmitReadings,
  buildSuspendDevice,
  chunkReadings,
  type DeviceReading,
  type SignedTx,
  signBody,
  type TxContext,
  toReadingEntries,
} from './sdk/transactions.ts';
export {
  DAY_MS,
  type Episode,
  episodeSeverity,
  makePatient,
  type PatientProfile,
  probeSlipAt,
  type Reading,
  SEPSIS_EFFECT,
  sampleToReadings,
  sampleVitals,
  scriptEpisodes,
  type VitalSample,
} from './sim/physiology.ts';
export { makeCohort, sampleNews2, type SimPatient } from './sim/cohort.ts';
export { gaussian, hash32, Rng, unit } from './sim/prng.ts';
export { fromHex, toHex } from './util/hex.ts';
