// A device process for the crash test (device-crash.test.ts): produces reading batch i = the simulated
// patient's vitals at T0 + i s for i in [start, start + count), one every `intervalMs`, and prints
// "queued <i>" only after submitReadings returned (the batch is fsynced). Then it waits for the queue
// to drain, prints "drained" and exits. The parent SIGKILLs it at arbitrary points.
// Usage: node device-child.ts <dataDir> <nodeUrl> <chainId> <patientHex> <start> <count> <intervalMs>

import { join } from 'node:path';
import { signerFromSeed } from '@vigil/consensus/wire';
import { Device } from '../sdk/device.ts';
import { loadOrCreateKeyFile } from '../sdk/keyfile.ts';
import { makePatient, sampleToReadings, sampleVitals } from '../sim/physiology.ts';
import { fromHex } from '../util/hex.ts';
import { CHILD_T0 } from './helpers.ts';

const [dataDir, nodeUrl, chainId, patientHex, startS, countS, intervalS] = process.argv.slice(2);
const start = Number(startS);
const count = Number(countS);
const intervalMs = Number(intervalS);
const key = loadOrCreateKeyFile(join(dataDir!, 'device.key'));
const device = Device.open({
  dataDir: dataDir!,
  chainId: chainId!,
  patient: fromHex(patientHex!),
  signer: signerFromSeed(key.seed),
  nodes: [nodeUrl!],
  backoff: { baseMs: 5, capMs: 50 },
  client: { timeoutMs: 2_000 },
  log: () => {},
});
const patient = makePatient(1, 0);
const ac = new AbortController();
const loop = device.run(ac.signal, { pollMs: 5 });
for (let i = start; i < start + count; i++) {
  device.submitReadings(sampleToReadings(sampleVitals(patient, CHILD_T0 + i * 1000)));
  process.stdout.write(`queued ${i}\n`);
  await new Promise((r) => setTimeout(r, intervalMs));
}
while (device.pendingCount > 0) await new Promise((r) => setTimeout(r, 5));
ac.abort();
await loop;
device.close();
process.stdout.write('drained\n');
