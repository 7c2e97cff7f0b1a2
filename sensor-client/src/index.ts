// @vigil/sensor-client: the device SDK for Node (devices, gateways), the simulator and the load
// generator. Everything in ./browser.ts plus the parts that need a file system or worker threads.
export * from './browser.ts';
export {
  type CommitReason,
  DEFAULT_ACCEPTED_SKEW_MS,
  DEFAULT_RESIGN_AFTER_MS,
  Device,
  type DeviceConfig,
  type DeviceEvent,
  FATAL_DEVICE_CODES,
  type FlushOutcome,
  NONCE_UNPROVEN_AFTER_MS,
  OUTCOME_ASK_OTHERS_AFTER_MS,
  OUTCOME_UNAVAILABLE_AFTER_MS,
  type ProvenNonceState,
} from './sdk/device.ts';
export { CHAIN_FILE, type ChainRecord, readChainRecord } from './sdk/chain-binding.ts';
export { createKeyFile, type KeyFile, loadKeyFile, loadOrCreateKeyFile } from './sdk/keyfile.ts';
export { NonceStore } from './sdk/nonce-store.ts';
export {
  DurableQueue,
  MAX_QUEUE_PAYLOAD,
  type QueueEntry,
  type QueueOptions,
  type QueueRecovery,
} from './sdk/queue.ts';
export { buildCorpus, buildCorpusParallel, type Corpus, loadDevices } from './load/corpus.ts';
export { nodeSignerFromSeed } from './load/node-signer.ts';
export { type LoadResult, type LoadRunConfig, runLoad, subscribeBlocks } from './load/runner.ts';
export {
  buildSchedule,
  runOpenLoop,
  type ScheduleConfig,
  type ScheduledBatch,
  totalTransactions,
} from './load/schedule.ts';
export { type LatencySummary, percentileSorted, summarize } from './load/stats.ts';
