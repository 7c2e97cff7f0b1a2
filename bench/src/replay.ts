// `npm run bench -- replay HOME [--verify] [--per-block] [--range-blocks N] [--profile FILE] [--to H] [--segments N]`:
// re-applies the blocks of a kept validator home (`bench -- probe --keep-chain HOME`) to a fresh chain, as
// a restarted node catching up does (commit certificate checked, per-transaction signatures skipped,
// ADR 0031; in certified ranges with one state-tree update each, ADR 0115), and reports blocks/s,
// tx/s and CPU per transaction; `--verify` checks every signature on the worker pool instead. The work
// is the real workload's (device enrolment, readings, alerts), so the CPU profile it can write names the
// costs of catch-up without the network in the way. The replayed state root must equal the kept one at
// every height: a replay that diverged would measure the wrong work. On a chain that keeps effects
// records (ADR 0133) each block carries its record, as a peer sends it, and certified ranges are applied
// from them; `--execute` leaves them out, so every range is executed.
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { fastVerifier } from '@vigil/node/crypto/fast-verifier.ts';
import { rememberBlockEncoding, rememberTxRootChecked } from '@vigil/node/exec/block-bytes.ts';
import { rememberBlockEffects } from '@vigil/node/exec/block-effects.ts';
import { BlockExecutor } from '@vigil/node/exec/executor.ts';
import { createHandlers } from '@vigil/node/state-machine/index.ts';
import { ChainStore, treeIntervalFromEnv } from '@vigil/node/store/chain-store.ts';
import { loadGenesis, toChainGenesis, validatorKeys } from '@vigil/node/validator/genesis-file.ts';
import { SYNC_BATCH } from '@vigil/node/validator/block-sync.ts';
import { homePaths } from '@vigil/node/validator/home.ts';
import { VerifyPool } from '@vigil/node/verify-pool/pool.ts';
import { type CpuProfile, summariseProfile } from './cpu-profile.ts';
import { BenchError } from './errors.ts';
import { sampleProc } from './real/proc.ts';

interface SegmentRow {
  fromHeight: number;
  toHeight: number;
  txs: number;
  txPerSecond: number;
  processCpuUsPerTx: number;
  /** Bytes this process caused to be written to storage per transaction (LevelDB log, tables and
   *  compactions; /proc/self/io), NaN where that is not readable. */
  storageBytesPerTx: number;
}

/** write_bytes of this process so far (NaN when /proc/self/io is not readable). */
function storageWritten(): number {
  return sampleProc(process.pid)?.writeBytes ?? Number.NaN;
}

function cpuMs(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1000;
}

export async function main(argv: string[] = process.argv.slice(3)): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      verify: { type: 'boolean', default: false },
      /** Execute every range even where the kept chain has effects records (before ADR 0133). */
      execute: { type: 'boolean', default: false },
      profile: { type: 'string' },
      to: { type: 'string' },
      /** Apply block by block (before ADR 0115) instead of in certified ranges. */
      'per-block': { type: 'boolean', default: false },
      /** Most blocks per certified range (the executor's default otherwise). */
      'range-blocks': { type: 'string' },
      /** Report rate and CPU per transaction for this many consecutive parts of the chain. */
      segments: { type: 'string', default: '1' },
    },
    strict: true,
  });
  const positive = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1)
      throw new BenchError('USAGE', `--${name}: a positive integer, not '${v}'`);
    return n;
  };
  const to = positive('to', values.to);
  const segmentCount = positive('segments', values.segments) ?? 1;
  const rangeBlocks = positive('range-blocks', values['range-blocks']);
  const perBlock = values['per-block'] || values.verify;
  const home = positionals[0];
  if (home === undefined)
    throw new BenchError('USAGE', 'replay needs the home a probe kept (--keep-chain DIR)');
  const paths = homePaths(home);
  const genesis = loadGenesis(paths.genesis);
  // A validator's home keeps the effects records in a store of their own (ADR 0135).
  const source = await ChainStore.open(paths.chainDb, {
    expectChainId: genesis.chainId,
    ...(existsSync(paths.effectsDb) ? { effectsPath: paths.effectsDb } : {}),
  });
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-replay-'));
  const pool = new VerifyPool({ size: availableParallelism() });
  let target: ChainStore | undefined;
  try {
    const last = Math.min(source.requireHead().height, to ?? Number.POSITIVE_INFINITY);
    // Blocks and certificates are read before the clock starts: reading the kept chain is not catch-up.
    const blocks = [];
    let txs = 0;
    for (let h = 1; h <= last; h++) {
      const stored = await source.blocks.checkedBlock(h);
      const root = await source.blocks.stateRootAt(h);
      if (stored?.certificate === undefined || root === undefined)
        throw new BenchError('BAD_RECORD', `the kept chain has no complete block at height ${h}`);
      const { block, certificate } = stored;
      // As block sync has it: decoded from the bytes a peer sent, which are stored as they are.
      rememberBlockEncoding(block, stored.bytes);
      rememberTxRootChecked(block);
      const effects = values.execute ? undefined : await source.blocks.effects(h);
      if (effects !== undefined) rememberBlockEffects(block, effects);
      blocks.push({ block, certificate, root });
      txs += block.txs.length;
    }
    const treeInterval = treeIntervalFromEnv();
    target = await ChainStore.open(join(dir, 'chain'), treeInterval !== undefined ? { treeInterval } : {});
    await target.initChain(toChainGenesis(genesis));
    const validators = validatorKeys(genesis);
    const executor = new BlockExecutor({
      store: target,
      handlers: createHandlers(),
      verifier: pool,
      certificateVerifier: fastVerifier,
      validatorsAt: () => validators,
    });
    const session = values.profile !== undefined ? new Session() : undefined;
    if (session !== undefined) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
    }
    const written0 = storageWritten();
    const thread0 = process.threadCpuUsage();
    const process0 = process.cpuUsage();
    const start = performance.now();
    // Per segment (equal numbers of blocks): does a transaction cost more as the database grows?
    const segments = Math.min(blocks.length, segmentCount);
    const segmentRows: SegmentRow[] = [];
    let seg = { at: performance.now(), cpu: process.cpuUsage(), written: storageWritten(), txs: 0, from: 1 };
    for (let i = 0; i < blocks.length; ) {
      // As block sync hands them over: a response of up to SYNC_BATCH, applied in ranges
      // (ADR 0115); block by block with --per-block or --verify (a range skips signature checks).
      let r: { height: number; stateRoot: Uint8Array };
      let n: number;
      if (perBlock) {
        const { block, certificate } = blocks[i]!;
        r = await executor.applyBlock(block, certificate, { trustCertified: !values.verify });
        n = 1;
      } else {
        const range = await executor.applyCertifiedRange(blocks.slice(i, i + SYNC_BATCH), {
          ...(rangeBlocks !== undefined ? { maxBlocks: rangeBlocks } : {}),
        });
        r = range;
        n = range.blocks.length;
      }
      const expected = blocks[i + n - 1]!.root;
      if (Buffer.compare(r.stateRoot, expected) !== 0)
        throw new BenchError(
          'BAD_RECORD',
          `replay diverged at height ${r.height}: state root differs from the kept chain's`,
        );
      for (let k = i; k < i + n; k++) seg.txs += blocks[k]!.block.txs.length;
      const before = i;
      i += n;
      if (
        segments > 1 &&
        Math.floor((i * segments) / blocks.length) > Math.floor((before * segments) / blocks.length)
      ) {
        const s = (performance.now() - seg.at) / 1000;
        segmentRows.push({
          fromHeight: seg.from,
          toHeight: r.height,
          txs: seg.txs,
          txPerSecond: Math.round(seg.txs / s),
          processCpuUsPerTx: Math.round((1000 * cpuMs(process.cpuUsage(seg.cpu))) / Math.max(1, seg.txs)),
          storageBytesPerTx: Math.round((storageWritten() - seg.written) / Math.max(1, seg.txs)),
        });
        seg = {
          at: performance.now(),
          cpu: process.cpuUsage(),
          written: storageWritten(),
          txs: 0,
          from: r.height + 1,
        };
      }
    }
    const seconds = (performance.now() - start) / 1000;
    const threadMs = cpuMs(process.threadCpuUsage(thread0));
    const processMs = cpuMs(process.cpuUsage(process0));
    const written = storageWritten() - written0;
    // LevelDB's own account of its compactions per level (what the storage writes above are made of).
    const levelDbStats = (target.db as unknown as { getProperty(name: string): string }).getProperty(
      'leveldb.stats',
    ); // classic-level's; the \`level\` typings name only the portable API
    if (session !== undefined && values.profile !== undefined) {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      writeFileSync(values.profile, JSON.stringify(profile));
      const summary = summariseProfile(profile as unknown as CpuProfile, 30);
      const pct = (x: number) => `${(100 * x).toFixed(1).padStart(5)} %`;
      console.error(
        `main-thread profile in ${values.profile}: ${summary.busySamples}/${summary.samples} busy`,
      );
      for (const x of summary.byArea) console.error(`  ${pct(x.share)}  ${x.name}`);
      for (const x of summary.byFunction) console.error(`  ${pct(x.share)}  ${x.name}`);
    }
    const result = {
      bench: 'replay',
      signaturesChecked: values.verify,
      applied: perBlock ? 'per block' : `in ranges of at most ${rangeBlocks ?? 'the default'} blocks`,
      /** Ranges and blocks applied from effects records, and ranges executed instead (ADR 0133). */
      fromEffects: executor.effectsRangeStats(),
      blocks: blocks.length,
      transactions: txs,
      seconds,
      blocksPerSecond: blocks.length / seconds,
      txPerSecond: txs / seconds,
      mainThreadCpuUsPerTx: (1000 * threadMs) / txs,
      processCpuUsPerTx: (1000 * processMs) / txs,
      storageBytesPerTx: written / txs,
      ...(segmentRows.length > 0 ? { segments: segmentRows } : {}),
    };
    const f = (x: unknown) => (typeof x === 'number' ? x.toFixed(x < 10 ? 3 : 0) : String(x));
    console.log('Vigil replay of a kept chain (catch-up without the network)');
    for (const [k, v] of Object.entries(result))
      if (k !== 'segments') console.log(`  ${k.padEnd(24)} ${f(v)}`);
    for (const x of segmentRows)
      console.log(
        `  heights ${x.fromHeight}-${x.toHeight}: ${x.txs} txs, ${x.txPerSecond} tx/s, ${x.processCpuUsPerTx} us CPU/tx, ${x.storageBytesPerTx} B written/tx`,
      );
    console.log(levelDbStats);
    console.log(JSON.stringify(result));
  } finally {
    await target?.close();
    await source.close();
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  }
}
