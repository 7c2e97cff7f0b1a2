// The genesis file: the one document every hospital's node agrees on before the chain starts. It names
// the chain, the founding organisations and their admin keys, the validators (whose keys alone decide
// who may connect: p2p derives libp2p identities from them) and the consensus parameters, which must
// be identical on every replica. JSON with hex keys, so operators can read and diff it.
import { readFileSync } from 'node:fs';
import { type GenesisSpec as ChainGenesis, MAX_STATE_ROOT_INTERVAL } from '../store/chain-store.ts';
import { type GenesisSpec as StateGenesis, genesisState } from '../state-machine/index.ts';

export interface ConsensusParams {
  checkpointInterval: number;
  windowSize: number;
  maxBlockTxs: number;
  maxBlockBytes: number;
  viewChangeTimeoutMs: number;
  maxClockSkewMs: number;
  /**
   * k: blocks per state-tree update (ADR 0117). The root recorded for a height commits to the state of
   * the last multiple of k: 1 (the default) gives every height its own root; 8-16 saves most of the
   * tree's CPU under steady traffic, and a proof then lags up to k - 1 blocks.
   */
  stateRootInterval: number;
}

/** Execution rules fixed at genesis that are switches, not numbers. */
export interface ChainRules {
  /**
   * Every block's receipts root is kept in the state (ADR 0123), so a certified state proves whether a
   * transaction was accepted. Absent in files written before it: false, and their genesis hash stays.
   * `vigil init` and the devnet write true.
   */
  receiptsRoots?: boolean;
  /**
   * Every block stores its effects record and commits to its digest in the state (ADR 0133), so a node
   * catching up applies certified ranges from peers' records instead of executing them. Needs
   * receiptsRoots. Absent in files written before it: false. `vigil init` and the devnet write true.
   */
  blockEffects?: boolean;
}

export const DEFAULT_CONSENSUS_PARAMS: ConsensusParams = {
  checkpointInterval: 16,
  windowSize: 64,
  maxBlockTxs: 2_000,
  maxBlockBytes: 4 * 1024 * 1024,
  viewChangeTimeoutMs: 1_000,
  maxClockSkewMs: 5_000,
  stateRootInterval: 1,
};

export interface GenesisFile {
  chainId: string;
  genesisTime: number;
  organisations: { orgId: string; name: string; admins: string[] }[];
  validators: { name: string; orgId: string; publicKey: string }[];
  parameters?: Record<string, number>;
  consensus: ConsensusParams & ChainRules;
}

export class GenesisFileError extends Error {
  /** GENESIS_FILE_NOT_FOUND: nothing at the path (a typo, not a bad file); otherwise INVALID_GENESIS_FILE. */
  readonly code: 'INVALID_GENESIS_FILE' | 'GENESIS_FILE_NOT_FOUND';
  constructor(message: string, code: GenesisFileError['code'] = 'INVALID_GENESIS_FILE') {
    super(message);
    this.name = 'GenesisFileError';
    this.code = code;
  }
}

const HEX32 = /^[0-9a-f]{64}$/;

function fromHex(s: string, what: string): Uint8Array {
  if (typeof s !== 'string' || !HEX32.test(s))
    throw new GenesisFileError(`${what}: expected 64 lowercase hex characters`);
  return new Uint8Array(Buffer.from(s, 'hex'));
}

function positiveInt(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v) || (v as number) <= 0)
    throw new GenesisFileError(`${what}: expected a positive integer`);
  return v as number;
}

/** Checks a parsed genesis document field by field; the state machine then checks its own rules. */
export function parseGenesis(doc: unknown): GenesisFile {
  if (typeof doc !== 'object' || doc === null) throw new GenesisFileError('genesis must be a JSON object');
  const g = doc as Record<string, unknown>;
  if (typeof g.chainId !== 'string' || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(g.chainId)) {
    throw new GenesisFileError('chainId: 1-64 characters of a-z, 0-9 and -');
  }
  const genesisTime = positiveInt(g.genesisTime, 'genesisTime');
  if (!Array.isArray(g.organisations) || !Array.isArray(g.validators)) {
    throw new GenesisFileError('organisations and validators must be arrays');
  }
  const organisations = g.organisations.map((o: Record<string, unknown>, i) => {
    if (typeof o?.orgId !== 'string' || typeof o.name !== 'string' || !Array.isArray(o.admins)) {
      throw new GenesisFileError(`organisations[${i}]: needs orgId, name and admins`);
    }
    for (const [j, a] of o.admins.entries()) fromHex(a as string, `organisations[${i}].admins[${j}]`);
    return { orgId: o.orgId, name: o.name, admins: o.admins as string[] };
  });
  const validators = g.validators.map((v: Record<string, unknown>, i) => {
    if (typeof v?.name !== 'string' || typeof v.orgId !== 'string' || typeof v.publicKey !== 'string') {
      throw new GenesisFileError(`validators[${i}]: needs name, orgId and publicKey`);
    }
    fromHex(v.publicKey, `validators[${i}].publicKey`);
    return { name: v.name, orgId: v.orgId, publicKey: v.publicKey };
  });
  const c = (g.consensus ?? {}) as Record<string, unknown>;
  const consensus: ConsensusParams & ChainRules = { ...DEFAULT_CONSENSUS_PARAMS };
  for (const k of Object.keys(DEFAULT_CONSENSUS_PARAMS) as (keyof ConsensusParams)[]) {
    if (c[k] !== undefined) consensus[k] = positiveInt(c[k], `consensus.${k}`);
  }
  if (c.receiptsRoots !== undefined) {
    if (typeof c.receiptsRoots !== 'boolean')
      throw new GenesisFileError('consensus.receiptsRoots: true or false');
    consensus.receiptsRoots = c.receiptsRoots;
  }
  if (c.blockEffects !== undefined) {
    if (typeof c.blockEffects !== 'boolean')
      throw new GenesisFileError('consensus.blockEffects: true or false');
    if (c.blockEffects && consensus.receiptsRoots !== true)
      throw new GenesisFileError('consensus.blockEffects needs consensus.receiptsRoots');
    consensus.blockEffects = c.blockEffects;
  }
  if (consensus.windowSize % consensus.checkpointInterval !== 0) {
    throw new GenesisFileError('consensus.windowSize must be a multiple of consensus.checkpointInterval');
  }
  if (consensus.stateRootInterval > MAX_STATE_ROOT_INTERVAL) {
    throw new GenesisFileError(`consensus.stateRootInterval: at most ${MAX_STATE_ROOT_INTERVAL}`);
  }
  let parameters: Record<string, number> | undefined;
  if (g.parameters !== undefined) {
    if (typeof g.parameters !== 'object' || g.parameters === null)
      throw new GenesisFileError('parameters: object');
    parameters = g.parameters as Record<string, number>;
  }
  const file: GenesisFile = { chainId: g.chainId, genesisTime, organisations, validators, consensus };
  if (parameters) file.parameters = parameters;
  // Let the state machine apply its own rules now, so a bad file fails before any directory is touched.
  genesisState(toStateGenesis(file));
  return file;
}

export function loadGenesis(path: string): GenesisFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new GenesisFileError(`no genesis file at ${path}`, 'GENESIS_FILE_NOT_FOUND');
    throw new GenesisFileError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new GenesisFileError(`${path} is not JSON: ${(e as Error).message}`);
  }
  return parseGenesis(doc);
}

export function validatorKeys(g: GenesisFile): Uint8Array[] {
  return g.validators.map((v, i) => fromHex(v.publicKey, `validators[${i}].publicKey`));
}

export function toStateGenesis(g: GenesisFile): StateGenesis {
  const spec: StateGenesis = {
    chainId: g.chainId,
    genesisTime: g.genesisTime,
    organisations: g.organisations.map((o) => ({
      orgId: o.orgId,
      name: o.name,
      admins: o.admins.map((a) => fromHex(a, 'admin')),
    })),
    validators: g.validators.map((v) => ({ publicKey: fromHex(v.publicKey, 'validator'), orgId: v.orgId })),
  };
  // The state machine schedules validator-set changes at checkpoint heights, so it must use consensus's K.
  spec.parameters = {
    ...(g.parameters as StateGenesis['parameters']),
    checkpointInterval: g.consensus.checkpointInterval,
  };
  return spec;
}

export function toChainGenesis(g: GenesisFile): ChainGenesis {
  return {
    chainId: g.chainId,
    genesisTime: g.genesisTime,
    validators: validatorKeys(g),
    state: genesisState(toStateGenesis(g)),
    stateRootInterval: g.consensus.stateRootInterval,
    receiptsRoots: g.consensus.receiptsRoots === true,
    blockEffects: g.consensus.blockEffects === true,
  };
}
