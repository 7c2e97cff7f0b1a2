import { FaultLayer } from '@vigil/p2p';
import t from 'tap';
import {
  applyFaultCommand,
  faultLayerFromEnv,
  parseFaultCommand,
  startFaultControl,
} from './fault-control.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

t.test('no switch, no fault layer; VIGIL_FAULTS sets the default link fault', (t) => {
  t.equal(faultLayerFromEnv({}), undefined);
  t.equal(faultLayerFromEnv({ VIGIL_FAULTS: '  ' }), undefined);
  t.type(faultLayerFromEnv({ VIGIL_FAULTS: '{"latencyMs":50,"loss":0.01,"seed":7}' }), FaultLayer);
  t.type(faultLayerFromEnv({ VIGIL_FAULT_CONTROL: '9999' }), FaultLayer);
  t.throws(() => faultLayerFromEnv({ VIGIL_FAULTS: '{' }), { code: 'BAD_FAULT_COMMAND' });
  t.throws(() => faultLayerFromEnv({ VIGIL_FAULTS: '{"loss":2}' }), { code: 'BAD_FAULT_COMMAND' });
  t.end();
});

t.test('commands are validated strictly', (t) => {
  t.same(parseFaultCommand({ op: 'heal' }), { op: 'heal' });
  t.same(parseFaultCommand({ op: 'partition', groups: [[A], [B]] }), { op: 'partition', groups: [[A], [B]] });
  for (const bad of [
    null,
    1,
    {},
    { op: 'nuke' },
    { op: 'cut', from: A },
    { op: 'cut', from: A, to: 'zz' },
    { op: 'partition', groups: [[1]] },
    { op: 'setDefault', fault: { latencyMs: -1 } },
  ]) {
    t.throws(() => parseFaultCommand(bad), { code: 'BAD_FAULT_COMMAND' }, JSON.stringify(bad));
  }
  t.end();
});

t.test('commands change what the layer blocks', (t) => {
  const layer = new FaultLayer();
  applyFaultCommand(layer, parseFaultCommand({ op: 'partition', groups: [[A], [B]] }));
  t.equal(layer.blocked(A, B), 'fault-partition');
  applyFaultCommand(layer, parseFaultCommand({ op: 'heal' }));
  t.equal(layer.blocked(A, B), undefined);
  applyFaultCommand(layer, parseFaultCommand({ op: 'cut', from: A, to: B }));
  t.equal(layer.blocked(A, B), 'fault-cut');
  t.equal(layer.blocked(B, A), undefined, 'one-way');
  applyFaultCommand(layer, parseFaultCommand({ op: 'reset' }));
  t.equal(layer.blocked(A, B), undefined);
  t.end();
});

t.test('the control endpoint applies commands and refuses garbage', async (t) => {
  const layer = new FaultLayer();
  const server = await startFaultControl(layer, 0);
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/faults`;
  const ok = await fetch(url, { method: 'POST', body: JSON.stringify({ op: 'cut', from: A, to: B }) });
  t.equal(ok.status, 200);
  t.equal(layer.blocked(A, B), 'fault-cut');
  const bad = await fetch(url, { method: 'POST', body: 'not json' });
  t.equal(bad.status, 400);
  t.match(await bad.json(), { code: 'BAD_FAULT_COMMAND' });
  t.equal((await fetch(url.replace('/faults', '/other'), { method: 'POST' })).status, 404);
});
