// Web Storage for the dashboard's unit tests, which run in Node (no localStorage or sessionStorage by
// default): fresh in-memory stores installed as the globals for one test, the previous ones put back
// after it.
import type { Test } from 'tap';

export class MemoryStorage implements Storage {
  readonly #items = new Map<string, string>();
  get length(): number {
    return this.#items.size;
  }
  clear(): void {
    this.#items.clear();
  }
  getItem(k: string): string | null {
    return this.#items.get(k) ?? null;
  }
  key(i: number): string | null {
    return [...this.#items.keys()][i] ?? null;
  }
  removeItem(k: string): void {
    this.#items.delete(k);
  }
  setItem(k: string, v: string): void {
    this.#items.set(k, String(v));
  }
  keys(): string[] {
    return [...this.#items.keys()];
  }
}

export function browserStorage(t: Test): { local: MemoryStorage; session: MemoryStorage } {
  const local = new MemoryStorage();
  const session = new MemoryStorage();
  const set = (name: string, value: unknown) =>
    Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  const before = Object.fromEntries(
    ['localStorage', 'sessionStorage'].map((n) => [n, Object.getOwnPropertyDescriptor(globalThis, n)]),
  );
  set('localStorage', local);
  set('sessionStorage', session);
  t.teardown(() => {
    for (const [n, d] of Object.entries(before)) {
      if (d) Object.defineProperty(globalThis, n, d);
      else delete (globalThis as Record<string, unknown>)[n];
    }
  });
  return { local, session };
}
