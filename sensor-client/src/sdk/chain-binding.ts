// Which chain a device's data directory belongs to (Node only). The queue holds transactions signed for
// one chain and the nonce store counts that chain's nonces; opened against another chain (which may
// have the same chain id: every `vigil genesis` and `npm start` network is vigil-devnet) the device
// resends transactions that chain never saw and waits forever on nonces it is not at. So the directory
// records its chain in chain.json on first use, and a directory made for another chain is refused
// (DATA_DIR_OTHER_CHAIN) instead of stalling silently. docs/sensor-client.md, "One data directory per
// chain".
//
// The chain id is known when the device is configured; the genesis hash (what tells two chains of one
// id apart) comes from the hospital's provisioning (DeviceConfig.genesisHash) or, failing that, from the
// first node that answers /v1/status, and is recorded then (trust on first use).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SdkError } from './errors.ts';
import { writeFileAtomic } from './fsutil.ts';

export const CHAIN_FILE = 'chain.json';

const GENESIS_HASH = /^[0-9a-f]{64}$/;

export interface ChainRecord {
  chainId: string;
  /** 64 lower-case hex; absent until provisioned or learnt from a node that serves it. */
  genesisHash?: string;
}

export function isGenesisHash(v: unknown): v is string {
  return typeof v === 'string' && GENESIS_HASH.test(v);
}

/** The chain `dir` was made for; undefined when it records none (new, or from before binding). */
export function readChainRecord(dir: string): ChainRecord | undefined {
  const path = join(dir, CHAIN_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let j: { chainId?: unknown; genesisHash?: unknown };
  try {
    j = JSON.parse(text);
  } catch {
    throw new SdkError('CHAIN_FILE_INVALID', `${path} is not JSON`);
  }
  if (typeof j?.chainId !== 'string' || j.chainId === '') {
    throw new SdkError('CHAIN_FILE_INVALID', `${path}: chainId must be a non-empty string`);
  }
  if (j.genesisHash !== undefined && !isGenesisHash(j.genesisHash)) {
    throw new SdkError('CHAIN_FILE_INVALID', `${path}: genesisHash must be 64 lower-case hex digits`);
  }
  return j.genesisHash === undefined
    ? { chainId: j.chainId }
    : { chainId: j.chainId, genesisHash: j.genesisHash };
}

/** Records (atomically) the chain `dir` belongs to. */
export function writeChainRecord(dir: string, rec: ChainRecord): void {
  writeFileAtomic(join(dir, CHAIN_FILE), JSON.stringify(rec) + '\n');
}

export function describeChain(c: ChainRecord): string {
  return c.genesisHash === undefined ? c.chainId : `${c.chainId} (genesis ${c.genesisHash.slice(0, 16)}…)`;
}

/**
 * DATA_DIR_OTHER_CHAIN for `dir`, recorded for `recorded`, met with `found`; `where` says who names
 * `found` ("node X serves", "the device is configured for"). Says what to do, since the operator reads
 * it at the bedside or in a log.
 */
export function otherChainError(
  dir: string,
  recorded: ChainRecord,
  found: ChainRecord,
  where: string,
): SdkError {
  return new SdkError(
    'DATA_DIR_OTHER_CHAIN',
    `data directory ${dir} belongs to chain ${describeChain(recorded)}, but ${where} chain ` +
      `${describeChain(found)}; its queued readings and nonces are the other chain's, so nothing is sent. ` +
      `Use a new data directory for this chain (--data-dir), or move ${dir} away; if the device ` +
      `belongs on chain ${describeChain(recorded)}, point it at that chain's nodes instead`,
  );
}
