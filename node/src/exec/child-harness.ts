// Test support: run a TypeScript script in a child Node process (the same binary as the test, so the
// same type stripping), read its stdout line by line, SIGKILL it at a chosen moment, and always clean up.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Child {
  proc: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  /** Resolves when a line matching `re` arrives (or rejects if the child exits first). */
  waitFor(re: RegExp): Promise<string>;
  /** SIGKILL (no-op if already dead); resolves once the process is gone. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export function startChild(script: string, args: string[]): Child {
  const proc = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  let stderr = '';
  proc.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code) => {
      live.delete(proc);
      for (const w of waiters.splice(0))
        w.reject(new Error(`child exited (${code}) before ${w.re}: ${stderr}`));
      resolve(code);
    });
  });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    lines.push(line);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.re.test(line)) waiters.splice(i, 1)[0]!.resolve(line);
    }
  });
  return {
    proc,
    lines,
    exited,
    waitFor(re) {
      const hit = lines.find((l) => re.test(l));
      if (hit !== undefined) return Promise.resolve(hit);
      if (proc.exitCode !== null || proc.signalCode !== null)
        return Promise.reject(new Error(`child gone: ${stderr}`));
      return new Promise((resolve, reject) => waiters.push({ re, resolve, reject }));
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
