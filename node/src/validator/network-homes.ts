// Creating a whole network's homes at once: one organisation per validator (each a hospital with one
// admin key), a shared genesis, and configs that point every validator at the others on loopback.
// Used by `vigil genesis`, `npm start` (the devnet) and multi-node tests.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@vigil/consensus/wire';
import { createKeyFile, type KeyFile, loadKeyFile } from '@vigil/sensor-client/sdk/keyfile.ts';
import {
  DEFAULT_CONSENSUS_PARAMS,
  type ChainRules,
  type ConsensusParams,
  type GenesisFile,
  parseGenesis,
} from './genesis-file.ts';
import { defaultConfig, homePaths, initHome, type NodeConfig } from './home.ts';

export interface NetworkHomesOptions {
  /** Parent directory: homes go to <dir>/node0..node{n-1}, admin keys to <dir>/keys. */
  dir: string;
  validators: number;
  chainId?: string;
  genesisTime?: number;
  /** Validator i listens for p2p on p2pBasePort + i and serves its API on apiBasePort + i (0: any port). */
  p2pBasePort?: number;
  apiBasePort?: number;
  /** Explicit ports per validator (tests ask the kernel for free ones); override the base ports. */
  p2pPorts?: readonly number[];
  apiPorts?: readonly number[];
  /** Consensus parameters and chain rules; receipts roots (ADR 0123) are on unless set false. */
  consensus?: Partial<ConsensusParams & ChainRules>;
  /** Deterministic keys (tests, benchmarks): seeds are SHA-256 of this label and the key's role. */
  seedLabel?: string;
}

export interface NetworkHomes {
  genesis: GenesisFile;
  homes: string[];
  /** Organisation admin key files, by org id (they sign enrolments and governance). */
  adminKeys: Record<string, KeyFile>;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Deterministic keys for tests and reproducible benchmarks: SHA-256 of a label. Never for production. */
function seedFor(label: string | undefined, what: string): Uint8Array | undefined {
  return label === undefined
    ? undefined
    : sha256(new TextEncoder().encode(`vigil-test-seed/${label}/${what}`));
}

const HOSPITALS = [
  "St Mary's",
  'Royal Infirmary',
  'Northgate General',
  'Riverside Clinic',
  'Hillcrest',
  'Lakeside',
];

export function createNetworkHomes(o: NetworkHomesOptions): NetworkHomes {
  if (!Number.isInteger(o.validators) || o.validators < 1 || o.validators > 64) {
    throw new RangeError('validators must be 1..64');
  }
  mkdirSync(join(o.dir, 'keys'), { recursive: true, mode: 0o700 });
  const p2pBase = o.p2pBasePort ?? 26600;
  const apiBase = o.apiBasePort ?? 7701;
  const p2pPort = (i: number) => o.p2pPorts?.[i] ?? p2pBase + i;
  const apiPort = (i: number) => o.apiPorts?.[i] ?? (apiBase === 0 ? 0 : apiBase + i);
  const homes: string[] = [];
  const configs: NodeConfig[] = [];
  const validatorKeys: KeyFile[] = [];
  const adminKeys: Record<string, KeyFile> = {};
  for (let i = 0; i < o.validators; i++) {
    const home = join(o.dir, `node${i}`);
    const config = defaultConfig(`validator-${i}`, p2pPort(i), apiPort(i));
    homes.push(home);
    configs.push(config);
    validatorKeys.push(initHome(home, config, seedFor(o.seedLabel, `validator-${i}`)));
    const orgId = `hospital-${i}`;
    const adminPath = join(o.dir, 'keys', `${orgId}-admin.json`);
    adminKeys[orgId] = existsSync(adminPath)
      ? loadKeyFile(adminPath)
      : createKeyFile(adminPath, seedFor(o.seedLabel, `admin-${i}`));
  }
  const genesis = parseGenesis({
    chainId: o.chainId ?? 'vigil-devnet',
    genesisTime: o.genesisTime ?? Date.now(),
    organisations: Object.entries(adminKeys).map(([orgId, k], i) => ({
      orgId,
      name: HOSPITALS[i % HOSPITALS.length]! + (i >= HOSPITALS.length ? ` ${i}` : ''),
      admins: [hex(k.publicKey)],
    })),
    validators: validatorKeys.map((k, i) => ({
      name: `validator-${i}`,
      orgId: `hospital-${i}`,
      publicKey: hex(k.publicKey),
    })),
    consensus: { ...DEFAULT_CONSENSUS_PARAMS, receiptsRoots: true, blockEffects: true, ...o.consensus },
  });
  for (let i = 0; i < homes.length; i++) {
    const config = configs[i]!;
    config.p2p.peers = validatorKeys
      .map((k, j) => ({ publicKey: hex(k.publicKey), addrs: [`/ip4/127.0.0.1/tcp/${p2pPort(j)}`] }))
      .filter((_, j) => j !== i);
    const paths = homePaths(homes[i]!);
    writeFileSync(paths.config, `${JSON.stringify(config, null, 2)}\n`);
    writeFileSync(paths.genesis, `${JSON.stringify(genesis, null, 2)}\n`);
  }
  return { genesis, homes, adminKeys };
}
