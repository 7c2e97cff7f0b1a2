// A node's home directory: everything one validator needs, in one place an operator can back up.
//   <home>/config.json        this node's settings (listen addresses, API port, peers' addresses)
//   <home>/genesis.json       the chain's genesis (identical on every node)
//   <home>/validator-key.json the validator's ed25519 seed, mode 0600 (the node refuses a looser mode)
//   <home>/data/chain         LevelDB: blocks, state tree, indexes (docs/storage.md)
//   <home>/data/consensus     LevelDB: the PBFT replica's durable records
//   <home>/data/effects       LevelDB: the blocks' effects records served to syncing peers (ADR 0135)
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type KeyFile, loadKeyFile, loadOrCreateKeyFile } from '@vigil/sensor-client/sdk/keyfile.ts';

export interface PeerAddress {
  publicKey: string;
  addrs: string[];
}

export interface NodeConfig {
  moniker: string;
  p2p: { listen: string[]; peers: PeerAddress[]; observers: PeerAddress[] };
  api: { host: string; port: number };
}

export class HomeError extends Error {
  readonly code:
    | 'INVALID_CONFIG'
    | 'MISSING_HOME'
    | 'HOME_EXISTS'
    | 'MISSING_GENESIS'
    | 'KEY_FILE_NOT_FOUND'
    | 'KEY_FILE_EXISTS';
  constructor(code: HomeError['code'], message: string) {
    super(message);
    this.name = 'HomeError';
    this.code = code;
  }
}

export const homePaths = (home: string) => ({
  config: join(home, 'config.json'),
  genesis: join(home, 'genesis.json'),
  key: join(home, 'validator-key.json'),
  chainDb: join(home, 'data', 'chain'),
  consensusDb: join(home, 'data', 'consensus'),
  effectsDb: join(home, 'data', 'effects'),
});

export function defaultConfig(moniker: string, p2pPort: number, apiPort: number): NodeConfig {
  return {
    moniker,
    p2p: { listen: [`/ip4/127.0.0.1/tcp/${p2pPort}`], peers: [], observers: [] },
    api: { host: '127.0.0.1', port: apiPort },
  };
}

function parsePeers(v: unknown, what: string): PeerAddress[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new HomeError('INVALID_CONFIG', `${what} must be an array`);
  return v.map((p: Record<string, unknown>, i) => {
    if (typeof p?.publicKey !== 'string' || !/^[0-9a-f]{64}$/.test(p.publicKey)) {
      throw new HomeError('INVALID_CONFIG', `${what}[${i}].publicKey must be 64 hex characters`);
    }
    const addrs = Array.isArray(p.addrs) ? p.addrs.filter((a): a is string => typeof a === 'string') : [];
    return { publicKey: p.publicKey, addrs };
  });
}

export function parseConfig(doc: unknown): NodeConfig {
  if (typeof doc !== 'object' || doc === null)
    throw new HomeError('INVALID_CONFIG', 'config must be an object');
  const c = doc as Record<string, unknown>;
  const p2p = (c.p2p ?? {}) as Record<string, unknown>;
  const api = (c.api ?? {}) as Record<string, unknown>;
  const listen = Array.isArray(p2p.listen)
    ? p2p.listen.filter((a): a is string => typeof a === 'string')
    : [];
  if (listen.length === 0) throw new HomeError('INVALID_CONFIG', 'p2p.listen needs at least one multiaddr');
  const port = api.port;
  if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) {
    throw new HomeError('INVALID_CONFIG', 'api.port must be 0-65535');
  }
  return {
    moniker: typeof c.moniker === 'string' ? c.moniker : 'vigil-node',
    p2p: {
      listen,
      peers: parsePeers(p2p.peers, 'p2p.peers'),
      observers: parsePeers(p2p.observers, 'p2p.observers'),
    },
    api: { host: typeof api.host === 'string' ? api.host : '127.0.0.1', port: port as number },
  };
}

export function loadConfig(home: string): NodeConfig {
  const path = homePaths(home).config;
  if (!existsSync(path))
    throw new HomeError('MISSING_HOME', `${path} does not exist: run \`vigil init --home ${home}\``);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new HomeError('INVALID_CONFIG', `${path}: ${(e as Error).message}`);
  }
  return parseConfig(doc);
}

/**
 * Creates a home with a validator key (0600; fresh, or from `seed`) and a config; refuses to overwrite
 * either. A key file already in the home is kept: with a `seed` of another key that is an error, raised
 * before anything is written, since going on would start the home as a validator it was not meant to be.
 */
export function initHome(home: string, config: NodeConfig, seed?: Uint8Array): KeyFile {
  const paths = homePaths(home);
  if (existsSync(paths.config)) throw new HomeError('HOME_EXISTS', `${paths.config} already exists`);
  if (seed !== undefined && existsSync(paths.key)) {
    const held = loadKeyFile(paths.key);
    if (Buffer.compare(held.seed, seed) !== 0) {
      throw new HomeError(
        'KEY_FILE_EXISTS',
        `${paths.key} already holds another key; vigil never overwrites a key file (move it away, or leave out --key to keep it)`,
      );
    }
  }
  mkdirSync(join(home, 'data'), { recursive: true, mode: 0o700 });
  const key = loadOrCreateKeyFile(paths.key, seed);
  writeFileSync(paths.config, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
  return key;
}

/**
 * The home's genesis file path, once it exists. A home made by `vigil init` has none until the operator
 * copies the network's in: said as the step to take, not as an unreadable file's ENOENT.
 */
export function requireGenesisFile(home: string): string {
  const path = homePaths(home).genesis;
  if (!existsSync(path)) {
    throw new HomeError(
      'MISSING_GENESIS',
      `${path} does not exist: copy the network's genesis.json into ${home} ` +
        '(docs/operations.md, "A validator by hand")',
    );
  }
  return path;
}

/** The validator key; loadKeyFile refuses a file that group or others can read. */
export function loadValidatorKey(home: string): KeyFile {
  const path = homePaths(home).key;
  try {
    return loadKeyFile(path);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e;
    // A new key would be another validator, one the genesis and the other nodes do not know.
    throw new HomeError(
      'KEY_FILE_NOT_FOUND',
      `${path} does not exist: restore this validator's key file from its backup`,
    );
  }
}
