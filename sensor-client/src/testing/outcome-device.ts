// A device requiring outcome proofs (ADR 0123) against a fake ward: one ledger keeping receipts roots,
// certified by `validators`, and one fake node per entry of `lies` (undefined: an honest node). Shared by
// the outcome and rejection tests. The device's clock is the returned `clock`: tests move it, never sleep.

import type { Signer } from '@vigil/consensus/wire';
import { Device, type DeviceConfig, type DeviceEvent } from '../sdk/device.ts';
import { FakeLedger, FakeNode, type Lie } from './fake-node.ts';
import { tempDir } from './helpers.ts';

export interface OutcomeWard {
  ledger: FakeLedger;
  nodes: FakeNode[];
  device: Device;
  events: DeviceEvent[];
  cfg: DeviceConfig;
  clock: { now: number };
}

export async function outcomeWard(
  t: { teardown(fn: () => unknown): void },
  opts: {
    chainId: string;
    validators: readonly Signer[];
    signer: Signer;
    patient: Uint8Array;
    t0: number;
    lies?: (Lie | undefined)[];
    cite?: 'immediate' | 'manual';
    extra?: Partial<DeviceConfig>;
  },
): Promise<OutcomeWard> {
  const ledger = new FakeLedger(opts.chainId);
  ledger.certifyWith(opts.validators);
  ledger.keepReceipts = true;
  ledger.citeMode = opts.cite ?? 'immediate';
  const nodes: FakeNode[] = [];
  for (const lie of opts.lies ?? [undefined]) {
    const n = new FakeNode(ledger, 0, lie ? { lie } : {});
    await n.start();
    t.teardown(() => n.stop());
    nodes.push(n);
  }
  const events: DeviceEvent[] = [];
  const clock = { now: opts.t0 };
  const cfg: DeviceConfig = {
    dataDir: tempDir(t),
    chainId: opts.chainId,
    patient: opts.patient,
    signer: opts.signer,
    nodes: nodes.map((n) => n.url),
    backoff: { baseMs: 2, capMs: 20 },
    client: { timeoutMs: 2_000 },
    validatorSets: [{ validators: opts.validators.map((v) => v.publicKey) }],
    requireOutcomeProof: true,
    now: () => clock.now,
    onEvent: (e) => events.push(e),
    log: () => {},
    ...opts.extra,
  };
  const device = Device.open(cfg);
  t.teardown(() => device.close());
  return { ledger, nodes, device, events, cfg, clock };
}
