// Test helper: what a directory holds, file by file, to show that an operation changed nothing on disk.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * `name:sha256` of every file in `dir`, sorted. LevelDB's LOCK and info logs (LOG, LOG.old) are left
 * out: any open attempt rotates them, and they are diagnostics, not data.
 */
export async function dataFilesSnapshot(dir: string): Promise<string[]> {
  return (await readdir(dir))
    .filter((f) => !['LOCK', 'LOG', 'LOG.old'].includes(f))
    .sort()
    .map(
      (f) =>
        `${f}:${createHash('sha256')
          .update(readFileSync(join(dir, f)))
          .digest('hex')}`,
    );
}
