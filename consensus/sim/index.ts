// @vigil/consensus/sim: the deterministic PBFT simulator's programmatic API (bench/ and tests use it).
export {
  type CampaignOptions,
  type CampaignResult,
  type CampaignRow,
  type Failure,
  percentile,
  runCampaign,
} from './campaign.ts';
export { FakeKeyRegistry } from './crypto.ts';
export { InvariantChecker, type Violation, ViolationKind } from './invariants.ts';
export { LAN, type LatencyDistribution, type LinkProfile, Network, type NetworkConfig } from './network.ts';
export { Prng } from './prng.ts';
export type {
  Behaviour,
  ByzantineSpec,
  CpuModel,
  CrashSpec,
  MessageStats,
  PartitionSpec,
  RunResult,
  ScenarioSpec,
} from './scenario.ts';
export {
  type BuildOptions,
  buildScenario,
  CHAIN_ID,
  DEFAULT_SIZES,
  type MutantName,
  Mutants,
  SCENARIO_NAMES,
  UnknownScenarioError,
} from './scenarios.ts';
export { reproduceCommand, type RunOptions, runScenario } from './simulator.ts';
