// Validators as separate OS processes on loopback: what `npm start`, the multi-process tests, the
// benchmarks and the fault campaigns run. Each validator is `vigil start --home DIR` in its own
// process, so SIGKILL, SIGSTOP and restarts are real.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { homePaths, loadConfig } from '../validator/home.ts';

const VIGIL = fileURLToPath(new URL('../cli/vigil.ts', import.meta.url));

export interface NodeStatusView {
  chainId: string;
  height: number;
  headHash: string;
  stateRoot: string;
  view: number;
  viewActive: boolean;
  primary: number;
  validatorIndex: number;
  mempool: { size: number; bytes: number; ready: number };
  peers: { key: string; connected: boolean }[];
}

export class ValidatorProcess {
  readonly home: string;
  readonly index: number;
  readonly apiUrl: string;
  #child: ChildProcess | undefined;
  #log: WriteStream | undefined;
  #exited: Promise<number | null> = Promise.resolve(null);

  constructor(home: string, index: number) {
    this.home = home;
    this.index = index;
    const { api } = loadConfig(home);
    this.apiUrl = `http://${api.host}:${api.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** `args`: further `vigil start` options (docs/cli.md), after `--home`. */
  start(env: Record<string, string> = {}, args: readonly string[] = []): void {
    if (this.running) return;
    this.#log ??= createWriteStream(join(this.home, 'node.log'), { flags: 'a' });
    const child = spawn(process.execPath, [VIGIL, 'start', '--home', this.home, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, VIGIL_LOG_LEVEL: process.env.VIGIL_LOG_LEVEL ?? 'info', ...env },
    });
    child.stdout!.pipe(this.#log, { end: false });
    child.stderr!.pipe(this.#log, { end: false });
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.#child = child;
  }

  /** Sends a signal; for SIGKILL/SIGTERM resolves once the process is gone. */
  async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    child.kill(sig);
    if (sig === 'SIGKILL' || sig === 'SIGTERM' || sig === 'SIGINT') await this.#exited;
  }

  /** Orderly stop (SIGTERM), escalating to SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  async status(timeoutMs = 2_000): Promise<NodeStatusView | undefined> {
    try {
      const res = await fetch(`${this.apiUrl}/v1/status`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) return undefined;
      return (await res.json()) as NodeStatusView;
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.#log?.end();
  }
}

export class ProcessNetwork {
  readonly nodes: ValidatorProcess[];

  constructor(homes: readonly string[]) {
    for (const h of homes) {
      if (!existsSync(homePaths(h).config)) throw new Error(`${h} is not a node home`);
    }
    this.nodes = homes.map((h, i) => new ValidatorProcess(h, i));
  }

  startAll(env?: Record<string, string>, args?: readonly string[]): void {
    for (const n of this.nodes) n.start(env, args);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    for (const n of this.nodes) n.close();
  }

  async statuses(): Promise<(NodeStatusView | undefined)[]> {
    return Promise.all(this.nodes.map((n) => n.status()));
  }

  /** Waits until every running node answers; returns false on timeout. */
  async waitReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const s = await this.statuses();
      if (s.every((x, i) => x !== undefined || !this.nodes[i]!.running)) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return false;
  }
}
