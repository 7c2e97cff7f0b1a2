#!/usr/bin/env node
// `vigil`: the operator's command line. Exit codes: 0 success, 1 runtime failure, 2 usage error,
// 3 configuration or data-directory problem (the message says what to fix).
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { createKeyFile, loadKeyFile } from '@vigil/sensor-client/sdk/keyfile.ts';
import pino from 'pino';
import { buildApi } from '../api/server.ts';
import { createNetworkHomes } from '../validator/network-homes.ts';
import { defaultConfig, initHome } from '../validator/home.ts';
import { Validator } from '../validator/validator.ts';

export const ExitCode = { ok: 0, failure: 1, usage: 2, config: 3 } as const;

class UsageError extends Error {
  readonly code = 'USAGE';
}

const USAGE = `vigil <command> [options]

  keys generate --out FILE          create an ed25519 key file (mode 0600)
  keys show --key FILE              print a key file's public key
  init --home DIR [--p2p-port N] [--api-port N] [--moniker NAME]
                                    create a node home with a fresh validator key
  genesis --dir DIR --validators N [--chain-id ID] [--p2p-port N] [--api-port N]
                                    create N validator homes (DIR/node0..) sharing one genesis,
                                    one hospital organisation per validator (admin keys in DIR/keys)
  start --home DIR                  run a validator until SIGINT/SIGTERM
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

async function start(home: string): Promise<void> {
  const log = pino({ level: process.env.VIGIL_LOG_LEVEL ?? 'info', base: { home } });
  const validator = await Validator.start({ home: resolve(home), log });
  const api = await buildApi({ validator });
  const { host, port } = validator.config.api;
  const address = await api.listen({ host, port });
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

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === 'help') {
    console.log(USAGE);
    return command === undefined ? ExitCode.usage : ExitCode.ok;
  }
  const sub = command === 'keys' ? rest.shift() : undefined;
  const { values } = parseArgs({
    args: rest,
    options: {
      home: { type: 'string' },
      dir: { type: 'string' },
      out: { type: 'string' },
      key: { type: 'string' },
      validators: { type: 'string' },
      'chain-id': { type: 'string' },
      'p2p-port': { type: 'string' },
      'api-port': { type: 'string' },
      moniker: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  switch (command) {
    case 'keys': {
      if (sub === 'generate') {
        const k = createKeyFile(required(values.out, 'out'));
        console.log(values.json ? JSON.stringify({ publicKey: hex(k.publicKey) }) : hex(k.publicKey));
        return ExitCode.ok;
      }
      if (sub === 'show') {
        const k = loadKeyFile(required(values.key, 'key'));
        console.log(values.json ? JSON.stringify({ publicKey: hex(k.publicKey) }) : hex(k.publicKey));
        return ExitCode.ok;
      }
      throw new UsageError('keys generate | keys show');
    }
    case 'init': {
      const home = required(values.home, 'home');
      const cfg = defaultConfig(
        values.moniker ?? 'vigil-node',
        int(values['p2p-port'], 'p2p-port', 26600),
        int(values['api-port'], 'api-port', 7701),
      );
      const key = initHome(home, cfg);
      console.log(
        values.json
          ? JSON.stringify({ home, publicKey: hex(key.publicKey) })
          : `created ${home}\nvalidator public key ${hex(key.publicKey)}\nadd it to the genesis file, then: vigil start --home ${home}`,
      );
      return ExitCode.ok;
    }
    case 'genesis': {
      const dir = required(values.dir, 'dir');
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
      await start(required(values.home, 'home'));
      return -1; // keeps running
    default:
      throw new UsageError(command ? `unknown command ${command}` : 'a command is required');
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/vigil')) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (err: Error & { code?: string }) => {
      if (err instanceof UsageError || err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
        console.error(`vigil: ${err.message}\n\n${USAGE}`);
        process.exit(ExitCode.usage);
      }
      const configCodes = [
        'INVALID_CONFIG',
        'MISSING_HOME',
        'HOME_EXISTS',
        'INVALID_GENESIS_FILE',
        'INVALID_GENESIS',
        'NOT_A_VALIDATOR',
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
      console.error(`vigil: ${err.code ? `${err.code}: ` : ''}${err.message}`);
      process.exit(err.code && configCodes.includes(err.code) ? ExitCode.config : ExitCode.failure);
    },
  );
}
