// Child process for store.test.ts: persists numbered batches forever, acknowledging each on stdout
// only after persist() resolved, until the parent SIGKILLs it. Batch i puts `r/i` and `s/i` (two
// records, to observe atomicity) and deletes `r/(i-3)`.
import { ConsensusRecordStore } from './store.ts';

const dir = process.argv[2]!;
const store = await ConsensusRecordStore.open(dir);
const existing = await store.loadAll();
let i = existing.filter((r) => r.key.startsWith('s/')).length;
process.stdout.write('ready\n');
for (;;) {
  i++;
  const value = new TextEncoder().encode(`value-${i}-`.repeat(1 + (i % 50)));
  await store.persist([
    { key: `r/${String(i).padStart(8, '0')}`, value },
    { key: `s/${String(i).padStart(8, '0')}`, value },
    { key: `r/${String(i - 3).padStart(8, '0')}`, value: null },
  ]);
  process.stdout.write(`ack ${i}\n`);
}
