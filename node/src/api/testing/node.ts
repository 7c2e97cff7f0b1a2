// One in-process validator with its API, for the API and CLI test suites (one network reused by many
// subtests keeps the suites fast). A single validator is a complete PBFT network (n = 1, f = 0,
// quorum 1): blocks are proposed, certified and applied as with four.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeTransaction,
  type Signer,
  sha256,
  signerFromSeed,
  signTransaction,
  type Transaction,
} from '@vigil/consensus/wire';
import { encodeBody, type TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { freePorts } from '../../testing/ports.ts';
import { createNetworkHomes } from '../../validator/network-homes.ts';
import { Validator } from '../../validator/validator.ts';
import { type ApiOptions, buildApi } from '../server.ts';

export interface TestNode {
  dir: string;
  /** The validator's home (homePaths(home).chainDb is its chain database). */
  home: string;
  chainId: string;
  validator: Validator;
  app: FastifyInstance;
  /** Admin of organisation hospital-0 (enrols clinicians). */
  admin: Actor;
  /**
   * Stops the API and the validator and starts both again on the same home: a node restart. `validator`
   * and `app` are replaced (a new app, not listening). `whileStopped` runs in between, on the stopped
   * node's home.
   */
  restart(whileStopped?: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/** A key holder that signs transactions with consecutive nonces. */
export class Actor {
  readonly signer: Signer;
  nonce = 0;
  readonly chainId: string;
  constructor(seed: Uint8Array | string, chainId: string) {
    this.chainId = chainId;
    this.signer = signerFromSeed(typeof seed === 'string' ? sha256(new TextEncoder().encode(seed)) : seed);
  }
  get key(): Uint8Array {
    return this.signer.publicKey;
  }
  tx(body: TxBody, o: { nonce?: number; timestamp?: number } = {}): Transaction {
    return signTransaction(
      {
        version: 1,
        chainId: this.chainId,
        type: body.type,
        sender: this.signer.publicKey,
        nonce: o.nonce ?? ++this.nonce,
        timestamp: o.timestamp ?? Date.now(),
        body: encodeBody(body),
      },
      this.signer,
    );
  }
  bytes(body: TxBody, o: { nonce?: number; timestamp?: number } = {}): Uint8Array {
    return encodeTransaction(this.tx(body, o));
  }
}

export async function startTestNode(api: Partial<ApiOptions> = {}): Promise<TestNode> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-api-'));
  const chainId = 'vigil-api-test';
  const [port] = await freePorts(1);
  const net = createNetworkHomes({
    dir,
    validators: 1,
    chainId,
    p2pPorts: [port!],
    apiBasePort: 0,
    seedLabel: 'api-test',
  });
  const start = async () => {
    const validator = await Validator.start({
      home: net.homes[0]!,
      log: pino({ level: 'silent' }),
      tickMs: 20,
      // Outcome proofs of a test's last transactions within a fraction of a second (production: 5 s).
      citeQuietMs: 250,
    });
    const app = await buildApi({
      validator,
      rateLimit: false,
      defaultMetrics: false,
      accessRecorder: { flushMs: 20 },
      ...api,
    });
    return { validator, app };
  };
  const adminKey = net.adminKeys['hospital-0']!;
  const node: TestNode = {
    dir,
    home: net.homes[0]!,
    chainId,
    ...(await start()),
    admin: new Actor(adminKey.seed, chainId),
    async restart(whileStopped) {
      await node.app.close();
      await node.validator.stop();
      await whileStopped?.();
      Object.assign(node, await start());
    },
    async close() {
      await node.app.close();
      await node.validator.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return node;
}
