// CPU and memory of a validator process, from Linux procfs (proc(5)): utime and stime (fields 14 and 15
// of /proc/<pid>/stat, in clock ticks), VmRSS / VmHWM from /proc/<pid>/status and the bytes it caused
// to be written to storage (write_bytes of /proc/<pid>/io: LevelDB's log, tables and compactions).
// Parsing is pure so it can be tested on captured text; reading returns undefined when the process is
// gone.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second (USER_HZ): 100 on every mainstream Linux ABI. */
export const USER_HZ = 100;

export interface ProcSample {
  cpuSeconds: number;
  rssBytes: number;
  peakRssBytes: number;
  /** write_bytes of /proc/<pid>/io; NaN when that file is not readable (another user's process). */
  writeBytes: number;
}

/** utime + stime in seconds from the text of /proc/<pid>/stat. */
export function parseStatCpuSeconds(stat: string): number {
  // The command name (field 2) is in parentheses and may itself contain spaces or ')': split after
  // the LAST ')'. Fields after it start at field 3 (state).
  const close = stat.lastIndexOf(')');
  if (close < 0) throw new RangeError('not a /proc/<pid>/stat line');
  const rest = stat
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new RangeError('bad utime/stime');
  return (utime + stime) / USER_HZ;
}

/** A "Key:   123 kB" line of /proc/<pid>/status, in bytes (NaN when absent). */
export function parseStatusKb(status: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** The write_bytes line of /proc/<pid>/io (NaN when absent). */
export function parseIoWriteBytes(io: string): number {
  const m = /^write_bytes:\s+(\d+)$/m.exec(io);
  return m ? Number(m[1]) : Number.NaN;
}

function readIo(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/io`, 'utf8');
  } catch {
    return '';
  }
}

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return {
      cpuSeconds: parseStatCpuSeconds(stat),
      rssBytes: parseStatusKb(status, 'VmRSS'),
      peakRssBytes: parseStatusKb(status, 'VmHWM'),
      writeBytes: parseIoWriteBytes(readIo(pid)),
    };
  } catch {
    return undefined;
  }
}

/** The command name (field 2) of a /proc/<pid>/task/<tid>/stat line: a thread's name. */
export function parseStatComm(stat: string): string {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) throw new RangeError('not a /proc stat line');
  return stat.slice(open + 1, close);
}

/**
 * CPU seconds per kind of thread of a process (Linux names threads: `MainThread`, `libuv-worker` for
 * the thread pool and the threads it starts, such as LevelDB's compaction thread, `V8Worker` for V8's
 * GC and compiler helpers, `WorkerThread` for worker_threads), digits in names folded to `#` so that
 * a pool is one entry. Undefined when the process is gone.
 */
export function sampleThreadCpu(pid: number): Map<string, number> | undefined {
  try {
    const out = new Map<string, number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      } catch {
        continue; // the thread ended between the listing and the read
      }
      const kind = parseStatComm(stat).replace(/[0-9]+/g, '#');
      out.set(kind, (out.get(kind) ?? 0) + parseStatCpuSeconds(stat));
    }
    return out;
  } catch {
    return undefined;
  }
}

/** CPU cores per kind of thread between two sampleThreadCpu samples `wallMs` apart (threads that
 *  started in between count from zero; kinds under 0.005 cores are left out). */
export function threadCoresBetween(
  a: Map<string, number>,
  z: Map<string, number>,
  wallMs: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [kind, seconds] of z) {
    const cores = (seconds - (a.get(kind) ?? 0)) / (wallMs / 1000);
    if (cores >= 0.005) out[kind] = Number(cores.toFixed(3));
  }
  return out;
}

export interface ProcUsage {
  /** CPU time used over the window divided by the window (1.0 = one core busy). */
  cpuCores: number;
  rssMiB: number;
  peakRssMiB: number;
  /** MiB written to storage per second over the window (NaN when /proc/<pid>/io was not readable;
   *  absent in records written before 2026-12-05). */
  diskWriteMiBPerSec?: number;
}

/** Usage between two samples of one process taken `wallMs` apart. */
export function usageBetween(a: ProcSample, b: ProcSample, wallMs: number): ProcUsage {
  return {
    cpuCores: wallMs > 0 ? (b.cpuSeconds - a.cpuSeconds) / (wallMs / 1000) : Number.NaN,
    rssMiB: b.rssBytes / 2 ** 20,
    peakRssMiB: b.peakRssBytes / 2 ** 20,
    diskWriteMiBPerSec: wallMs > 0 ? (b.writeBytes - a.writeBytes) / 2 ** 20 / (wallMs / 1000) : Number.NaN,
  };
}
