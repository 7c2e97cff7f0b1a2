// CPU and memory of a validator process, from Linux procfs (proc(5)): utime and stime (fields 14 and 15
// of /proc/<pid>/stat, in clock ticks), VmRSS / VmHWM from /proc/<pid>/status and the bytes it caused
// to be written to storage (write_bytes of /proc/<pid>/io: LevelDB's log, tables and compactions).
// Parsing is pure so it can be tested on captured text; reading returns undefined when the process is
// gone.
import { readFileSync } from 'node:fs';

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
