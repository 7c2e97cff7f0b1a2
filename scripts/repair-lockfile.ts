// The npm registry this project's machines reach serves Biome's Linux binaries but not its macOS,
// Windows, Android or musl ones. `npm install` then writes a package-lock.json without entries for
// those optional platform packages, and `npm ci` (which CI must use) refuses the lock as out of sync.
// This adds the missing entries exactly as npm would on a machine that could see them (platform
// fields only: npm skips them by os/cpu/libc and never fetches them here). Run after changing deps:
//   npx node scripts/repair-lockfile.ts
import { readFileSync, writeFileSync } from 'node:fs';

interface LockEntry {
  version?: string;
  optionalDependencies?: Record<string, string>;
  [k: string]: unknown;
}

const PLATFORMS: Record<string, { os: string; cpu: string; libc?: string }> = {
  'android-arm64': { os: 'android', cpu: 'arm64' },
  'android-x64': { os: 'android', cpu: 'x64' },
  'darwin-arm64': { os: 'darwin', cpu: 'arm64' },
  'darwin-x64': { os: 'darwin', cpu: 'x64' },
  'linux-arm64': { os: 'linux', cpu: 'arm64', libc: 'glibc' },
  'linux-x64': { os: 'linux', cpu: 'x64', libc: 'glibc' },
  'linux-arm64-musl': { os: 'linux', cpu: 'arm64', libc: 'musl' },
  'linux-x64-musl': { os: 'linux', cpu: 'x64', libc: 'musl' },
  'win32-arm64': { os: 'win32', cpu: 'arm64' },
  'win32-x64': { os: 'win32', cpu: 'x64' },
};

export function repairLock(lock: { packages: Record<string, LockEntry> }): string[] {
  const added: string[] = [];
  const biome = lock.packages['node_modules/@biomejs/biome'];
  for (const [name, version] of Object.entries(biome?.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (lock.packages[key]) continue;
    const platform = PLATFORMS[name.replace('@biomejs/cli-', '')];
    if (!platform) continue;
    lock.packages[key] = {
      version,
      cpu: [platform.cpu],
      dev: true,
      license: 'MIT OR Apache-2.0',
      optional: true,
      os: [platform.os],
      ...(platform.libc ? { libc: [platform.libc] } : {}),
      engines: { node: '>=14.21.3' },
    };
    added.push(name);
  }
  return added;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = 'package-lock.json';
  const lock = JSON.parse(readFileSync(path, 'utf8'));
  const added = repairLock(lock);
  writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(
    added.length ? `repair-lockfile: added ${added.join(', ')}` : 'repair-lockfile: nothing to add',
  );
}
