import t from 'tap';
import {
  parseIoWriteBytes,
  parseStatComm,
  parseStatCpuSeconds,
  parseStatusKb,
  sampleProc,
  sampleThreadCpu,
  threadCoresBetween,
  usageBetween,
} from './proc.ts';

// A real /proc/<pid>/stat line, with a command name containing a space and a parenthesis.
const STAT =
  '4242 (node (vigil) x) S 1 4242 4242 0 -1 4194560 12345 0 0 0 1234 567 0 0 20 0 11 0 123456 1000000000 25000 18446744073709551615 1 1 0 0 0 0 0 4096 134234626 0 0 0 17 1 0 0 0 0 0';

t.test('stat: utime + stime after the last parenthesis, in seconds at USER_HZ 100', async (t) => {
  t.equal(parseStatCpuSeconds(STAT), (1234 + 567) / 100);
  t.throws(() => parseStatCpuSeconds('garbage'), RangeError);
  t.throws(() => parseStatCpuSeconds('1 (x) S 1'), RangeError);
});

t.test('status: kB lines in bytes', async (t) => {
  const status = 'Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n';
  t.equal(parseStatusKb(status, 'VmRSS'), 102400 * 1024);
  t.equal(parseStatusKb(status, 'VmHWM'), 204800 * 1024);
  t.ok(Number.isNaN(parseStatusKb(status, 'VmSwap')));
});

t.test('usage between two samples', async (t) => {
  const u = usageBetween(
    { cpuSeconds: 10, rssBytes: 0, peakRssBytes: 0, writeBytes: 2 ** 20 },
    { cpuSeconds: 13, rssBytes: 2 ** 21, peakRssBytes: 2 ** 22, writeBytes: 5 * 2 ** 20 },
    2_000,
  );
  t.same(u, { cpuCores: 1.5, rssMiB: 2, peakRssMiB: 4, diskWriteMiBPerSec: 2 });
});

t.test('io: write_bytes, NaN when the file was not readable', async (t) => {
  const io =
    'rchar: 6976\nwchar: 10\nsyscr: 10\nsyscw: 1\nread_bytes: 4096\nwrite_bytes: 81920\ncancelled_write_bytes: 0\n';
  t.equal(parseIoWriteBytes(io), 81920);
  t.ok(Number.isNaN(parseIoWriteBytes('')));
});

t.test('sampleProc reads this process and returns undefined for a missing pid', async (t) => {
  const me = sampleProc(process.pid);
  t.ok(me !== undefined && me.rssBytes > 0 && me.cpuSeconds >= 0);
  t.ok(me !== undefined && (Number.isNaN(me.writeBytes) || me.writeBytes >= 0));
  t.equal(sampleProc(2 ** 30), undefined);
});

t.test('threads: names from the stat line, CPU per kind of thread, cores between samples', async (t) => {
  t.equal(parseStatComm('4242 (libuv-worker) S 1 2 3'), 'libuv-worker');
  t.equal(parseStatComm('7 (odd ) name) R 1'), 'odd ) name', 'the last parenthesis closes the name');
  t.throws(() => parseStatComm('no name here'), RangeError);
  const mine = sampleThreadCpu(process.pid);
  t.ok(mine !== undefined && mine.size >= 1, 'this process has named threads');
  t.ok([...(mine?.values() ?? [])].every((s) => s >= 0));
  t.equal(sampleThreadCpu(2 ** 31 - 2), undefined, 'a missing pid');
  const a = new Map([
    ['MainThread', 10],
    ['V#Worker', 1],
  ]);
  const z = new Map([
    ['MainThread', 12],
    ['V#Worker', 1.001],
    ['libuv-worker', 0.5],
  ]);
  t.same(threadCoresBetween(a, z, 2_000), { MainThread: 1, 'libuv-worker': 0.25 }, 'idle kinds left out');
});
