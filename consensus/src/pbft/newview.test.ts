// NEW-VIEW computation and checking (TOCS 2002 §4.4, §4.5.2) with the chain repair of ADR 0011.
import t, { type Test } from 'tap';
import { bytesEqual } from './bytes.ts';
import { DropReason, PbftRejectError } from './errors.ts';
import { decodeMessage, MessageType, type NewView } from './messages.ts';
import { buildNewView, checkNewView, computeNewViewPlan } from './newview.ts';
import { type CheckedViewChange, checkViewChange } from './proofs.ts';
import { primaryOf } from './quorum.ts';
import { Replica } from './replica.ts';
import {
  checkpoint,
  contextFor,
  GENESIS_ROOT,
  makeTestBlock,
  newView,
  prepare,
  preparedProof,
  testGroup,
  tx,
  viewChange,
} from './testkit.ts';

const g = testGroup(4);
const ctx = contextFor(g);

// Blocks 1 and 2 proposed by primary 0 in view 0; an alternative block 1 proposed by primary 1 in view 1.
const b1 = makeTestBlock(4, 0, 1, undefined, [tx(1)]);
const b2 = makeTestBlock(4, 0, 2, { hash: b1.hash, timestamp: b1.block.header.timestamp }, [tx(2)]);
const c1 = makeTestBlock(4, 1, 1, undefined, [tx(11)]);

function vc(
  from: number,
  newView: number,
  prepared = [] as ReturnType<typeof preparedProof>[],
  proof: Uint8Array[] = [],
) {
  return checkViewChange(ctx, viewChange(g, from, newView, prepared, proof).bytes);
}

function rejects(t: Test, fn: () => unknown, code: string, what: string) {
  try {
    fn();
    t.fail(`${what}: accepted`);
  } catch (e) {
    t.ok(e instanceof PbftRejectError, `${what}: PbftRejectError`);
    t.equal((e as PbftRejectError).code, code, what);
  }
}

t.test('§4.4 O selection: the prepared certificate with the highest view wins at each height', async (t) => {
  const vcs = [vc(1, 2, [preparedProof(g, 0, b1)]), vc(2, 2, [preparedProof(g, 1, c1)]), vc(3, 2)];
  const plan = computeNewViewPlan(ctx, 2, vcs);
  t.equal(plan.checkpoint.height, 0, 'min-s: genesis');
  t.equal(plan.blocks.length, 1, 'max-s = 1');
  t.ok(bytesEqual(plan.blocks[0]!.blockHash, c1.hash), 'view-1 certificate beats view-0 certificate');
});

t.test('§4.4 null blocks fill heights with no certificate; they are deterministic', async (t) => {
  const vcs = [vc(1, 1, [preparedProof(g, 0, b1)]), vc(2, 1), vc(3, 1)];
  const plan = computeNewViewPlan(ctx, 1, vcs);
  t.equal(plan.blocks.length, 1);
  const again = computeNewViewPlan(ctx, 1, [vc(1, 1, [preparedProof(g, 0, b1)]), vc(2, 1), vc(3, 1)]);
  t.ok(bytesEqual(plan.blocks[0]!.blockHash, again.blocks[0]!.blockHash), 'same inputs, same O');
  // Only height 2 prepared somewhere (its parent, b1, is in no certificate): height 1 becomes null, and
  // b2 no longer chains, so chain repair turns height 2 null too.
  const gap = computeNewViewPlan(ctx, 1, [vc(1, 1, [preparedProof(g, 0, b2)]), vc(2, 1), vc(3, 1)]);
  t.equal(gap.blocks.length, 2);
  const [n1, n2] = gap.blocks;
  t.equal(n1!.block.txs.length, 0, 'height 1: null block');
  t.equal(n1!.block.header.proposer, primaryOf(1, 4), 'proposer = the new primary');
  t.ok(bytesEqual(n1!.block.header.prevHash, new Uint8Array(32)), 'chained onto the checkpoint (genesis)');
  t.equal(n1!.block.header.timestamp, 1, "timestamp = parent's + 1");
  t.ok(bytesEqual(n1!.block.header.stateRoot, GENESIS_ROOT), "stateRoot = the checkpoint's");
  t.equal(n2!.source, undefined, 'height 2: b2 replaced by a null block (chain repair)');
  t.ok(bytesEqual(n2!.block.header.prevHash, n1!.blockHash), 'and chained onto the null block');
});

t.test(
  'chain repair (ADR 0011): a selected block whose parent lost at h-1 is replaced by a null block',
  async (t) => {
    // b1, b2 prepared in view 0 at replica 1; c1 prepared in view 1 at replica 2 (so b2 cannot have
    // committed: its parent b1 lost at height 1 to a later view).
    const vcs = [
      vc(1, 2, [preparedProof(g, 0, b1), preparedProof(g, 0, b2)]),
      vc(2, 2, [preparedProof(g, 1, c1)]),
      vc(3, 2),
    ];
    const plan = computeNewViewPlan(ctx, 2, vcs);
    t.ok(bytesEqual(plan.blocks[0]!.blockHash, c1.hash), 'height 1: c1 (highest view)');
    t.equal(plan.blocks[1]!.block.txs.length, 0, 'height 2: b2 does not extend c1, so a null block');
    t.ok(bytesEqual(plan.blocks[1]!.block.header.prevHash, c1.hash), 'the null block extends c1');
    t.equal(plan.blocks[1]!.block.header.timestamp, c1.block.header.timestamp + 1);
  },
);

t.test(
  'min-s: the highest stable checkpoint among the VIEW-CHANGEs; certificates at or below it are ignored',
  async (t) => {
    const root = new Uint8Array(32).fill(4);
    const proof = [0, 1, 2].map((i) => checkpoint(g, i, 4, b2.hash, root, 9).bytes);
    const b5 = makeTestBlock(4, 0, 5, { hash: b2.hash, timestamp: 9 }, [tx(5)], {
      stateRoot: root,
      stateHeight: 4,
    });
    const vcs = [vc(1, 1, [preparedProof(g, 0, b1)]), vc(2, 1, [preparedProof(g, 0, b5)], proof), vc(3, 1)];
    const plan = computeNewViewPlan(ctx, 1, vcs);
    t.equal(plan.checkpoint.height, 4);
    t.same(
      plan.blocks.map((b) => b.block.header.height),
      [5],
    );
    t.ok(bytesEqual(plan.blocks[0]!.blockHash, b5.hash), 'b5 chains onto the checkpoint block');
  },
);

function validNewView(view: number, vcs: CheckedViewChange[]) {
  const primary = primaryOf(view, 4);
  const plan = computeNewViewPlan(ctx, view, vcs);
  return buildNewView(ctx, g.signers[primary]!, primary, plan, vcs);
}

t.test('§4.5.2 a backup accepts a correct NEW-VIEW', async (t) => {
  const vcs = [vc(1, 1, [preparedProof(g, 0, b1), preparedProof(g, 0, b2)]), vc(2, 1), vc(3, 1)];
  const nv = validNewView(1, vcs);
  const checked = checkNewView(ctx, decodeMessage(nv.bytes, ctx.limits) as NewView);
  t.same(
    checked.plan.blocks.map((b) => b.block.header.height),
    [1, 2],
  );
  t.ok(bytesEqual(checked.plan.blocks[1]!.blockHash, b2.hash), 'prepared blocks are re-proposed unchanged');
});

t.test('§4.5.2 rejects a NEW-VIEW that omits a prepared block', async (t) => {
  const vcs = [vc(1, 1, [preparedProof(g, 0, b1)]), vc(2, 1), vc(3, 1)];
  const lazy = computeNewViewPlan(ctx, 1, vcs, true); // primary pretends nothing prepared
  const nv = buildNewView(ctx, g.signers[1]!, 1, lazy, vcs);
  rejects(t, () => checkNewView(ctx, nv.message), DropReason.badNewView, 'omitted block');
  // Substituting a different block at height 1 is caught the same way.
  const sub = buildNewView(
    ctx,
    g.signers[1]!,
    1,
    {
      ...lazy,
      blocks: [{ height: 1, block: c1.block, blockBytes: c1.bytes, blockHash: c1.hash, source: undefined }],
    },
    vcs,
  );
  rejects(t, () => checkNewView(ctx, sub.message), DropReason.badNewView, 'substituted block');
  // The test-only mutation accepts it: this is what the simulator's "checker can fail" mutant uses.
  const laxCtx = contextFor(g, { acceptNewViewWithoutPreparedProof: true });
  t.doesNotThrow(() => checkNewView(laxCtx, nv.message), 'mutation: omitted block accepted');
});

t.test(
  '§4.5.2 rejects a NEW-VIEW whose PRE-PREPARE signs the right hash but carries another block',
  async (t) => {
    const vcs = [vc(1, 1, [preparedProof(g, 0, b1)]), vc(2, 1), vc(3, 1)];
    const plan = computeNewViewPlan(ctx, 1, vcs, false);
    t.ok(bytesEqual(plan.blocks[0]!.blockHash, b1.hash), 'O re-proposes b1');
    // The signed fields name b1; the attached block is c1 (well formed, another hash).
    const swapped = buildNewView(
      ctx,
      g.signers[1]!,
      1,
      { ...plan, blocks: [{ ...plan.blocks[0]!, block: c1.block, blockBytes: c1.bytes }] },
      vcs,
    );
    const o = decodeMessage(swapped.message.prePrepares[0]!, ctx.limits);
    t.ok(
      o.type === MessageType.prePrepare &&
        bytesEqual(o.blockHash, b1.hash) &&
        bytesEqual(o.blockBytes, c1.bytes),
      'the PRE-PREPARE names b1 and carries c1',
    );
    rejects(t, () => checkNewView(ctx, swapped.message), DropReason.badNewView, 'block other than its hash');
    // A replica drops it and stays out of the view; with the true NEW-VIEW it enters and prepares b1.
    const r2 = Replica.create(g.config(2), g.deps(2));
    r2.step({ type: 'tick', now: 1000 });
    const out = r2.step({ type: 'receive', from: 1, message: swapped.bytes });
    t.equal(r2.view === 1 && r2.active, false, 'the tampered NEW-VIEW is not installed');
    t.same(out.persist, [], 'nothing of it is persisted');
    r2.step({ type: 'receive', from: 1, message: buildNewView(ctx, g.signers[1]!, 1, plan, vcs).bytes });
    t.ok(r2.view === 1 && r2.active, 'the correct NEW-VIEW is installed');
  },
);

t.test('§4.5.2 rejects a NEW-VIEW whose VIEW-CHANGE carries a forged certificate', async (t) => {
  const good = preparedProof(g, 0, b1);
  // Replica 3 fabricates replica 2's PREPARE (signs it with its own key).
  const fakePrepare = prepare(g, 3, 0, 1, b1.hash).message;
  const forgedBytes = (() => {
    const real = prepare(g, 2, 0, 1, b1.hash);
    const bytes = real.bytes.slice();
    const sig = fakePrepare.signature;
    bytes.set(sig, bytes.length - 64);
    return bytes;
  })();
  const forged = { prePrepare: good.prePrepare, prepares: [good.prepares[0]!, forgedBytes] };
  const raw = viewChange(g, 3, 1, [forged]).bytes;
  rejects(t, () => checkViewChange(ctx, raw), DropReason.badSignature, 'forged PREPARE signature');
  const short = { prePrepare: good.prePrepare, prepares: [good.prepares[0]!] };
  rejects(
    t,
    () => checkViewChange(ctx, viewChange(g, 3, 1, [short]).bytes),
    DropReason.badCertificate,
    'q-2 PREPAREs',
  );
  const dup = { prePrepare: good.prePrepare, prepares: [good.prepares[0]!, good.prepares[0]!] };
  rejects(
    t,
    () => checkViewChange(ctx, viewChange(g, 3, 1, [dup]).bytes),
    DropReason.badCertificate,
    'one PREPARE twice',
  );
  // Inside a NEW-VIEW: the primary includes the forged VIEW-CHANGE.
  const vcsRaw = [viewChange(g, 2, 1, []).bytes, viewChange(g, 3, 1, []).bytes, raw];
  const nv = newView(g, 1, 1, vcsRaw, []);
  rejects(
    t,
    () => checkNewView(ctx, nv.message),
    DropReason.badSignature,
    'NEW-VIEW with a forged certificate',
  );
});

t.test('§4.5.2 rejects stale or insufficient VIEW-CHANGE sets', async (t) => {
  const stale = newView(
    g,
    2,
    2,
    [viewChange(g, 1, 1, []).bytes, viewChange(g, 2, 2, []).bytes, viewChange(g, 3, 2, []).bytes],
    [],
  );
  rejects(
    t,
    () => checkNewView(ctx, stale.message),
    DropReason.badNewView,
    'a VIEW-CHANGE for an older view',
  );
  const few = newView(g, 1, 1, [viewChange(g, 2, 1, []).bytes, viewChange(g, 3, 1, []).bytes], []);
  rejects(t, () => checkNewView(ctx, few.message), DropReason.badNewView, 'q-1 VIEW-CHANGEs');
  const dup = newView(
    g,
    1,
    1,
    [viewChange(g, 2, 1, []).bytes, viewChange(g, 2, 1, []).bytes, viewChange(g, 3, 1, []).bytes],
    [],
  );
  rejects(t, () => checkNewView(ctx, dup.message), DropReason.badNewView, 'one sender twice');
  const wrong = newView(
    g,
    2,
    1,
    [viewChange(g, 1, 1, []).bytes, viewChange(g, 2, 1, []).bytes, viewChange(g, 3, 1, []).bytes],
    [],
  );
  rejects(
    t,
    () => checkNewView(ctx, wrong.message),
    DropReason.badNewView,
    'NEW-VIEW not from the primary of its view',
  );
  const badCp = [0, 1].map((i) => checkpoint(g, i, 4, b2.hash, GENESIS_ROOT, 9).bytes);
  rejects(
    t,
    () => checkViewChange(ctx, viewChange(g, 3, 1, [], badCp).bytes),
    DropReason.badCheckpoint,
    'checkpoint proof with q-1 messages',
  );
});

t.test('a backup replica installs a valid NEW-VIEW and prepares O; drops an invalid one', async (t) => {
  const vcs = [vc(1, 1, [preparedProof(g, 0, b1)]), vc(2, 1), vc(3, 1)];
  const nv = validNewView(1, vcs);
  const r = Replica.create(g.config(2), g.deps(2));
  const ready = r.step({ type: 'receive', from: 1, message: nv.bytes });
  t.equal(r.view, 1);
  t.ok(r.active, 'normal operation in view 1');
  const prepares = ready.send
    .map((s) => decodeMessage(s.message, ctx.limits))
    .filter((m) => m.type === MessageType.prepare);
  t.equal(prepares.length, 1, 'PREPARE for the re-proposed block');
  t.equal(r.stats().newViewsInstalled, 1);
  const lazy = computeNewViewPlan(ctx, 1, vcs, true);
  const bad = buildNewView(ctx, g.signers[1]!, 1, lazy, vcs);
  const r2 = Replica.create(g.config(2), g.deps(2));
  r2.step({ type: 'receive', from: 1, message: bad.bytes });
  t.equal(r2.view, 0, 'an invalid NEW-VIEW changes nothing');
  t.equal(r2.stats().dropped[DropReason.badNewView], 1);
});
