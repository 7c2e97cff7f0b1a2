#!/usr/bin/env node
// `vigil`: the operator's command line. Exit codes: 0 success, 1 runtime failure, 2 usage error,
// 3 configuration or data-directory problem (the message says what to fix).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeTransaction, type Signer, signerFromSeed, signTransaction } from '@vigil/consensus/wire';
import { BodyError, decodeBody, encodeBody } from '@vigil/consensus/wire/bodies/index.ts';
import { createKeyFile, type KeyFile, loadKeyFile } from '@vigil/sensor-client/sdk/keyfile.ts';
import type { ApiOptions } from '../api/server.ts';
import { ACTIONS, type Values } from './actions.ts';
import { parseArgsMessage, UsageError } from './args.ts';
import { CliError, ExitCode, NodeClient } from './node-client.ts';
import { QUERIES } from './queries.ts';

export { ExitCode };

const USAGE = `vigil <command> [options]

  keys generate --out FILE          create an ed25519 key file (mode 0600)
  keys show --key FILE              print a key file's public key
  init --home DIR [--key FILE] [--p2p-port N] [--api-port N] [--moniker NAME]
                                    create a node home with a fresh validator key, or a copy of
                                    the existing key file --key FILE
  genesis --dir DIR --validators N [--chain-id ID] [--p2p-port N] [--api-port N]
                                    create N validator homes (DIR/node0..) sharing one genesis,
                                    one hospital organisation per validator (admin keys in DIR/keys)
  start --home DIR [--tls-key PEM --tls-cert PEM] [--cors ORIGIN,...] [--rate-limit N] [--trust-proxy]
        [--idle-sign-out MIN] [--recover]
                                    run a validator and its API until SIGINT/SIGTERM; --recover after
                                    its data directory was lost (it observes before it votes, ADR 0121);
                                    --idle-sign-out: the dashboard's automatic logoff (default 15, 1..720)

State-machine commands sign with --key FILE and submit to --node URL (default $VIGIL_NODE or
http://127.0.0.1:7701), waiting for the block unless --no-wait:
${Object.entries(ACTIONS)
  .map(([name, a]) => `  ${name} ${a.usage}`)
  .join('\n')}
  enrol --role clinician|researcher ...   (alias of enrol-clinician / enrol-researcher)

Queries (--node URL; patient data is signed with --key FILE):
${Object.entries(QUERIES)
  .map(([name, q]) => `  ${name} ${q.usage}`)
  .join('\n')}

Every command takes --json for machine-readable output.
Exit codes: 0 ok, 1 failure, 2 usage, 3 configuration, 4 refused by the node or the chain
(problem code or rejected transaction), 5 node unreachable or unavailable (5xx, 429).
`;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function int(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer`);
  return n;
}

function required(v: string | undefined, name: string): string {
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

/**
 * A key file named by an option, loaded and checked (mode 0600, format). A missing one is
 * KEY_FILE_NOT_FOUND naming the path (exit 3), not Node's bare ENOENT.
 */
function readKeyFile(path: string, option: string): KeyFile {
  try {
    return loadKeyFile(path);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e;
    throw new CliError(
      'KEY_FILE_NOT_FOUND',
      `${path} does not exist (--${option} takes a key file: vigil keys generate --out FILE makes one)`,
      ExitCode.config,
    );
  }
}

function loadSigner(path: string | undefined): Signer {
  return signerFromSeed(readKeyFile(required(path, 'key'), 'key').seed);
}

/** API options from `start` flags: TLS, CORS origins, rate limit, the dashboard's idle sign-out. */
function apiOptions(values: Values): Omit<ApiOptions, 'validator'> {
  const o: Omit<ApiOptions, 'validator'> = {};
  const key = values['tls-key'] as string | undefined;
  const cert = values['tls-cert'] as string | undefined;
  if ((key === undefined) !== (cert === undefined))
    throw new UsageError('--tls-key and --tls-cert go together');
  if (key && cert) o.https = { key: readFileSync(key), cert: readFileSync(cert) };
  const cors = values.cors as string | undefined;
  if (cors) o.corsOrigins = cors.split(',');
  if (values['trust-proxy'] === true) o.trustProxy = true;
  const rl = values['rate-limit'] as string | undefined;
  if (rl !== undefined) {
    const max = int(rl, 'rate-limit', 0);
    o.rateLimit = max === 0 ? false : { max, timeWindowMs: 60_000 };
  }
  const idle = values['idle-sign-out'] as string | undefined;
  if (idle !== undefined) {
    // Whole minutes, and no "off": a ward workstation left signed in is what the logoff is for (ADR 0127).
    const min = int(idle, 'idle-sign-out', 0);
    if (min < 1 || min > 720) throw new UsageError('--idle-sign-out is minutes, from 1 to 720');
    o.dashboard = { idleSignOutMs: min * 60_000 };
  }
  return o;
}

async function submitAction(command: string, values: Values): Promise<number> {
  const action = ACTIONS[command]!;
  const signer = loadSigner(values.key as string | undefined);
  const client = new NodeClient(
    (values.node as string | undefined) ?? process.env.VIGIL_NODE ?? 'http://127.0.0.1:7701',
  );
  const now = Date.now();
  const body = action.body(values, signer.publicKey, now);
  let encoded: ReturnType<typeof encodeBody>;
  try {
    encoded = encodeBody(body);
    decodeBody(body.type, encoded); // the node would refuse it anyway: say why before signing
  } catch (e) {
    if (e instanceof BodyError) throw new UsageError(e.message);
    throw e;
  }
  const { chainId } = await client.get<{ chainId: string }>('/v1/status');
  const nonce =
    values.nonce !== undefined
      ? int(values.nonce as string, 'nonce', 0)
      : await client.nextNonce(signer.publicKey);
  const tx = signTransaction(
    { version: 1, chainId, type: body.type, sender: signer.publicKey, nonce, timestamp: now, body: encoded },
    signer,
  );
  const r = await client.submit(encodeTransaction(tx), values['no-wait'] !== true);
  const b = r.body as { id: string; status?: string; height?: number; code?: string };
  if (values.json) console.log(JSON.stringify(b));
  if (b.status === 'rejected') {
    if (!values.json)
      console.error(
        `vigil: ${b.code}: transaction ${b.id} rejected by the state machine in block ${b.height}`,
      );
    return ExitCode.refused;
  }
  if (!values.json) {
    console.log(
      b.status === 'committed'
        ? `committed ${b.id} in block ${b.height}`
        : `submitted ${b.id} (pending; check with: vigil tx ${b.id})`,
    );
  }
  return ExitCode.ok;
}

async function runQuery(command: string, values: Values, positionals: string[]): Promise<number> {
  const client = new NodeClient(
    (values.node as string | undefined) ?? process.env.VIGIL_NODE ?? 'http://127.0.0.1:7701',
  );
  let chain: string | undefined;
  const r = await QUERIES[command]!.run({
    client,
    values,
    positionals,
    signer: () => loadSigner(values.key as string | undefined),
    chainId: async () => {
      chain ??= (await client.get<{ chainId: string }>('/v1/status')).chainId;
      return chain;
    },
  });
  console.log(values.json ? JSON.stringify(r.json) : r.text);
  return ExitCode.ok;
}

// The validator, its API, LevelDB and libp2p are imported only by the commands that run or create a
// node: loading them took ~1.3 s of the ~1.8 s every command spent starting, and a clinician's
// `vigil grant-access` or an operator's `vigil status` needs none of it.
async function start(home: string, options: Omit<ApiOptions, 'validator'>, recover: boolean): Promise<void> {
  const [{ default: pino }, { buildApi }, { Validator }] = await Promise.all([
    import('pino'),
    import('../api/server.ts'),
    import('../validator/validator.ts'),
  ]);
  const log = pino({ level: process.env.VIGIL_LOG_LEVEL ?? 'info', base: { home } });
  const validator = await Validator.start({ home: resolve(home), log, recover }).catch((e: unknown) => {
    throw startFailure(e, home);
  });
  const api = await buildApi({ validator, ...options });
  const { host, port } = validator.config.api;
  const address = await api.listen({ host, port }).catch(async (e: unknown) => {
    // Stop the validator that already joined the network before reporting: it must not vote on.
    await validator.stop().catch(() => undefined);
    throw startFailure(e, home);
  });
  log.info({ api: address, index: validator.index }, 'api listening');
  let stopping = false;
  const shutdown = async (signal: string, code: number) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await api.close().catch(() => undefined);
    await validator.stop();
    log.info({}, 'stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown('SIGINT', ExitCode.ok));
  process.on('SIGTERM', () => void shutdown('SIGTERM', ExitCode.ok));
  validator.events.on('fatal', (err) => {
    log.fatal({ err: String(err) }, 'consensus driver failed; stopping so the node restarts from disk');
    void shutdown('fatal', ExitCode.failure);
  });
}

/**
 * What an operator meets when `start` cannot get its resources, as a config-class CliError (exit 3)
 * saying what holds them: LevelDB's lock ("Database failed to open", the cause two levels down) when
 * another process runs this home, and EADDRINUSE for the API port. Anything else is unchanged.
 */
export function startFailure(e: unknown, home: string): unknown {
  const err = e as Error & { code?: string; cause?: { code?: string } };
  if (err.code === 'LEVEL_DATABASE_NOT_OPEN' && err.cause?.code === 'LEVEL_LOCKED') {
    return new CliError(
      'HOME_IN_USE',
      `${join(home, 'data')} is locked by another process: a validator is already running on ` +
        `${home} (stop it first; \`pgrep -af vigil\` lists them)`,
      ExitCode.config,
    );
  }
  if (err.code === 'GENESIS_MISMATCH' || err.code === 'WRONG_CHAIN') {
    // The store can only say the two differ; which file to put back is the home's business.
    const message = err.message.startsWith(`${err.code}: `)
      ? err.message.slice(err.code.length + 2)
      : err.message;
    return new CliError(
      err.code,
      `${message}: ${join(home, 'genesis.json')} is not the genesis ${join(home, 'data')} was created with ` +
        "(put back the network's genesis.json, or move data/ away to start this home on the new one)",
      ExitCode.config,
    );
  }
  if (err.code === 'EADDRINUSE') {
    const where = /address already in use (\S+)/.exec(err.message)?.[1] ?? 'the API address';
    return new CliError(
      'API_ADDRESS_IN_USE',
      `cannot serve the API on ${where}: another process holds it (stop it, or change api.port in ` +
        `${join(home, 'config.json')})`,
      ExitCode.config,
    );
  }
  return e;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // `vigil init --help` is what operators type: help is help wherever it appears, never an unknown option.
  if (command === undefined || command === '--help' || command === 'help' || rest.includes('--help')) {
    console.log(USAGE);
    return command === undefined ? ExitCode.usage : ExitCode.ok;
  }
  const sub = command === 'keys' ? rest.shift() : undefined;
  const str = { type: 'string' } as const;
  const flag = { type: 'boolean' } as const;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      home: str,
      dir: str,
      out: str,
      key: str,
      validators: str,
      'chain-id': str,
      'p2p-port': str,
      'api-port': str,
      moniker: str,
      json: flag,
      // start
      'tls-key': str,
      'tls-cert': str,
      cors: str,
      'rate-limit': str,
      'trust-proxy': flag,
      'idle-sign-out': str,
      recover: flag,
      // commands that talk to a node
      node: str,
      nonce: str,
      'no-wait': flag,
      'public-key': str,
      licence: str,
      study: str,
      reason: str,
      'reason-code': str,
      patient: str,
      guardian: str,
      device: str,
      'new-key': str,
      'valid-from': str,
      'valid-for': str,
      overlap: str,
      resume: flag,
      to: str,
      org: str,
      scopes: str,
      purpose: str,
      'expires-in': str,
      grant: str,
      duration: str,
      access: str,
      'opt-in': flag,
      'opt-out': flag,
      reading: { type: 'string', multiple: true },
      threshold: { type: 'string', multiple: true },
      'spo2-scale2': flag,
      seq: str,
      name: str,
      admin: { type: 'string', multiple: true },
      value: str,
      proposal: str,
      role: str,
      height: str,
      id: str,
      tx: str,
      kind: str,
      from: str,
      'from-height': str,
      limit: str,
      cursor: str,
      open: flag,
      genesis: str,
    },
    allowPositionals: true,
    strict: true,
  });
  const action = command === 'enrol' ? `enrol-${values.role ?? 'clinician'}` : command;
  if (action !== undefined && Object.hasOwn(ACTIONS, action)) return submitAction(action, values);
  if (command !== undefined && Object.hasOwn(QUERIES, command)) return runQuery(command, values, positionals);
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  switch (command) {
    case 'keys': {
      if (sub === 'generate') {
        const out = required(values.out, 'out');
        let k: ReturnType<typeof createKeyFile>;
        try {
          k = createKeyFile(out);
        } catch (e) {
          if ((e as { code?: string }).code !== 'EEXIST') throw e;
          // Never overwritten: a new key would orphan whatever the old one is enrolled or bound as.
          throw new CliError(
            'KEY_FILE_EXISTS',
            `${out} already exists; vigil never overwrites a key file (choose another --out, or use it: vigil keys show --key ${out})`,
            ExitCode.config,
          );
        }
        console.log(values.json ? JSON.stringify({ publicKey: hex(k.publicKey) }) : hex(k.publicKey));
        return ExitCode.ok;
      }
      if (sub === 'show') {
        const k = readKeyFile(required(values.key, 'key'), 'key');
        console.log(values.json ? JSON.stringify({ publicKey: hex(k.publicKey) }) : hex(k.publicKey));
        return ExitCode.ok;
      }
      throw new UsageError('keys generate | keys show');
    }
    case 'init': {
      const home = required(values.home, 'home');
      const { defaultConfig, initHome } = await import('../validator/home.ts');
      const cfg = defaultConfig(
        values.moniker ?? 'vigil-node',
        int(values['p2p-port'], 'p2p-port', 26600),
        int(values['api-port'], 'api-port', 7701),
      );
      // An existing validator key (a rebuilt host, a key made offline) is checked like any other key
      // file before anything is written, and copied in: the home stays one directory to back up.
      const seed = values.key !== undefined ? readKeyFile(values.key, 'key').seed : undefined;
      const key = initHome(home, cfg, seed);
      const pk = hex(key.publicKey);
      console.log(
        values.json
          ? JSON.stringify({ home, publicKey: pk })
          : [
              `created ${home}`,
              `validator public key ${pk}`,
              `next: copy the network's genesis.json into ${home}, with this key either`,
              "  - in the genesis file's validators (a network not started yet), or",
              '  - proposed by an organisation admin to a running network, and approved by the others:',
              `    vigil propose-add-validator --public-key ${pk} --org ORG`,
              '    (docs/operations.md, "Adding or removing a validator")',
              `then: vigil start --home ${home}`,
            ].join('\n'),
      );
      return ExitCode.ok;
    }
    case 'genesis': {
      const dir = required(values.dir, 'dir');
      const { createNetworkHomes } = await import('../validator/network-homes.ts');
      const net = createNetworkHomes({
        dir,
        validators: int(values.validators, 'validators', 4),
        ...(values['chain-id'] ? { chainId: values['chain-id'] } : {}),
        p2pBasePort: int(values['p2p-port'], 'p2p-port', 26600),
        apiBasePort: int(values['api-port'], 'api-port', 7701),
      });
      if (values.json) console.log(JSON.stringify({ chainId: net.genesis.chainId, homes: net.homes }));
      else {
        console.log(`chain ${net.genesis.chainId}: ${net.homes.length} validators`);
        for (const h of net.homes) console.log(`  vigil start --home ${h}`);
        console.log(`organisation admin keys in ${join(dir, 'keys')}`);
      }
      return ExitCode.ok;
    }
    case 'start':
      await start(required(values.home, 'home'), apiOptions(values), values.recover === true);
      return -1; // keeps running
    default:
      if (command === 'help' || command === '--help') {
        console.log(USAGE);
        return ExitCode.ok;
      }
      throw new UsageError(command ? `unknown command ${command}` : 'a command is required');
  }
}

const CONFIG_CODES = [
  'INVALID_CONFIG',
  'MISSING_HOME',
  'HOME_EXISTS',
  'MISSING_GENESIS',
  'KEY_FILE_NOT_FOUND',
  'KEY_FILE_EXISTS',
  'INVALID_GENESIS_FILE',
  'GENESIS_FILE_NOT_FOUND',
  'INVALID_GENESIS',
  'NOT_A_VALIDATOR',
  'P2P_LISTEN_FAILED',
  'KEY_FILE_INSECURE',
  'KEY_FILE_INVALID',
  'WRONG_CHAIN',
  'GENESIS_MISMATCH',
  'SCHEMA_MISMATCH',
  'CORRUPT_METADATA',
  'MISSING_RECORD',
  'UNEXPECTED_RECORD',
  'CORRUPT_RECORD',
  'CORRUPT_STATE',
];

/** One line on stderr for a failure, and its exit code (docs/cli.md): never a stack trace. */
export function reportFailure(e: unknown): number {
  const err = e as Error & { code?: string };
  // Many errors (StoreError, KEY_FILE_*, Node's fs errors) already begin their message with the code:
  // print it once, so every line reads `vigil: CODE: message` (docs/cli.md).
  const text = (code: string) =>
    err.message.startsWith(`${code}: `) ? err.message.slice(code.length + 2) : err.message;
  if (err instanceof UsageError || (err.code ?? '').startsWith('ERR_PARSE_ARGS')) {
    console.error(`vigil: USAGE: ${parseArgsMessage(err)}\n\nrun 'vigil help' for every command and option`);
    return ExitCode.usage;
  }
  if (err instanceof CliError) {
    console.error(`vigil: ${err.code}: ${text(err.code)}`);
    return err.exit;
  }
  if (err.code === 'ENOENT' || err.code === 'EACCES') {
    console.error(`vigil: ${err.code}: ${text(err.code)}`);
    return ExitCode.config;
  }
  console.error(`vigil: ${err.code ? `${err.code}: ${text(err.code)}` : err.message}`);
  return err.code && CONFIG_CODES.includes(err.code) ? ExitCode.config : ExitCode.failure;
}

/** `main` with failures reported: the exit code (-1 while `start` keeps running). */
export async function run(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (e) {
    return reportFailure(e);
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/vigil')) {
  run(process.argv.slice(2)).then((code) => {
    if (code >= 0) process.exit(code);
  });
}
