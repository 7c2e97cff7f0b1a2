// Runs the fake node standalone, for trying the SDK, simulator and load generator without a network:
//   npx node sensor-client/src/testing/fake-node-server.ts [port] [chainId]
// It verifies signatures, dedups and orders nonces (parking future ones like a mempool), commits every
// 100 ms, and serves /v1/events. It does NOT run PBFT or the state machine: readings are not validated
// against bindings, and there are no proofs.
import { FakeLedger, FakeNode } from './fake-node.ts';

const port = Number(process.argv[2] ?? 7799);
const ledger = new FakeLedger(process.argv[3] ?? 'vigil-fake');
ledger.commitMode = 'manual';
ledger.parkFutureNonces = true;
setInterval(() => ledger.commitPending(), 100);
const node = new FakeNode(ledger, port);
console.log(`fake node on ${await node.start()} (chain ${ledger.chainId})`);
