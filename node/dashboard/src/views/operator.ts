// Operator: network status (validators, height, view, peers, liveness), a block and transaction explorer
// whose inclusion proofs are verified here in the browser against the validator set, and tx/s and
// commit latency over time. Everything updates from the live feed (block events), no polling.
import {
  outcomeProofFromJson,
  verifyTransactionLeafProof,
  verifyTransactionOutcome,
  verifyTransactionProof,
} from '@vigil/consensus/proof';
import {
  decodeBlockHeader,
  decodeCommitCertificate,
  fromHex,
  referenceVerifier,
  txTypeName,
} from '@vigil/consensus/wire';
import uPlot from 'uplot';
import { ApiProblem, getJson, getText } from '../client.ts';
import { empty, errorBox, h, loading, replace } from '../dom.ts';
import type { BlockEvent, LiveFeed } from '../events.ts';
import { throttle } from '../events.ts';
import { clock, shortKey, time } from '../format.ts';
import { commitLatencyTotals } from '../metrics-text.ts';

interface Status {
  chainId: string;
  height: number;
  headHash: string;
  view: number;
  primary: number;
  validatorIndex: number;
  mempool: { size: number; bytes: number };
  peers: { key: string; role: string; connected: boolean; score: number }[];
  validators: { index: number; publicKey: string; self: boolean; live: boolean }[];
  quorum: number;
  version: string;
  time: number;
}
interface BlockSummary {
  height: number;
  hash: string;
  header: { timestamp: number; txCount: number; proposer: number; view: number };
  txIds: (string | null)[];
  receipts?: { status: string; code?: string }[];
}

const SAMPLE_MS = 5_000;
const MAX_SAMPLES = 120;

export function operatorView(feed: LiveFeed): { el: HTMLElement; dispose: () => void } {
  const statusBox = h(
    'section',
    { class: 'card', 'aria-labelledby': 'net-h' },
    h('h2', { id: 'net-h' }, 'Network'),
    loading(),
  );
  const ratesBox = h(
    'section',
    { class: 'card', 'aria-labelledby': 'rate-h' },
    h('h2', { id: 'rate-h' }, 'Throughput and commit latency'),
    empty('Collecting: a point every 5 s while blocks arrive.'),
  );
  const blocksBox = h(
    'section',
    { class: 'card', 'aria-labelledby': 'blocks-h' },
    h('h2', { id: 'blocks-h' }, 'Latest blocks'),
    loading(),
  );
  const detailBox = h(
    'section',
    { class: 'card detail', 'aria-live': 'polite', 'aria-labelledby': 'detail-h' },
    h('h2', { id: 'detail-h' }, 'Explorer'),
    empty('Choose a block, or look up a transaction id.'),
  );
  let validators: Uint8Array[] = [];

  async function loadStatus() {
    try {
      const s = await getJson<Status>('/v1/status');
      validators = s.validators.map((v) => fromHex(v.publicKey));
      const live = s.validators.filter((v) => v.live).length;
      replace(
        statusBox,
        h('h2', { id: 'net-h' }, 'Network'),
        h(
          'dl',
          { class: 'facts' },
          h('dt', null, 'Chain'),
          h('dd', null, s.chainId),
          h('dt', null, 'Height'),
          h('dd', { 'data-testid': 'height' }, s.height),
          h('dt', null, 'View'),
          h('dd', null, `${s.view} (primary: validator ${s.primary})`),
          h('dt', null, 'Validators live'),
          h('dd', null, `${live} of ${s.validators.length} (quorum ${s.quorum})`),
          h('dt', null, 'Mempool'),
          h('dd', null, `${s.mempool.size} txs, ${(s.mempool.bytes / 1024).toFixed(1)} KiB`),
          h('dt', null, 'Node time'),
          h('dd', null, clock(s.time)),
        ),
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            null,
            h('caption', null, `Validators, as seen by validator ${s.validatorIndex}`),
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                h('th', { scope: 'col' }, '#'),
                h('th', { scope: 'col' }, 'Key'),
                h('th', { scope: 'col' }, 'Liveness'),
                h('th', { scope: 'col' }, 'Role'),
              ),
            ),
            h(
              'tbody',
              null,
              ...s.validators.map((v) =>
                h(
                  'tr',
                  null,
                  h('td', null, v.index),
                  h('td', null, h('code', null, shortKey(v.publicKey))),
                  h('td', { class: v.live ? 'ok' : 'bad' }, v.live ? 'live' : 'unreachable'),
                  h(
                    'td',
                    null,
                    [v.self ? 'this node' : '', v.index === s.primary ? 'primary' : '']
                      .filter(Boolean)
                      .join(', ') || '—',
                  ),
                ),
              ),
            ),
          ),
        ),
        h(
          'p',
          null,
          `Peers: ${s.peers.filter((p) => p.connected).length} connected of ${s.peers.length} known.`,
        ),
      );
    } catch (e) {
      replace(
        statusBox,
        h('h2', { id: 'net-h' }, 'Network'),
        errorBox(`Cannot read the node status: ${(e as Error).message}`),
      );
    }
  }

  async function loadBlocks() {
    try {
      const r = await getJson<{ head: number; blocks: BlockSummary[] }>('/v1/blocks?limit=15');
      const rows = [...r.blocks].sort((a, b) => b.height - a.height);
      replace(
        blocksBox,
        h('h2', { id: 'blocks-h' }, 'Latest blocks'),
        rows.length === 0
          ? empty('No blocks yet.')
          : h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                null,
                h(
                  'thead',
                  null,
                  h(
                    'tr',
                    null,
                    h('th', { scope: 'col' }, 'Height'),
                    h('th', { scope: 'col' }, 'Txs'),
                    h('th', { scope: 'col' }, 'Proposer'),
                    h('th', { scope: 'col' }, 'Time'),
                  ),
                ),
                h(
                  'tbody',
                  null,
                  ...rows.map((b) =>
                    h(
                      'tr',
                      null,
                      h(
                        'td',
                        null,
                        h(
                          'button',
                          { type: 'button', class: 'link', onclick: () => void showBlock(b.height) },
                          `#${b.height}`,
                        ),
                      ),
                      h('td', null, b.header.txCount),
                      h('td', null, b.header.proposer),
                      h('td', null, clock(b.header.timestamp)),
                    ),
                  ),
                ),
              ),
            ),
      );
    } catch (e) {
      replace(
        blocksBox,
        h('h2', { id: 'blocks-h' }, 'Latest blocks'),
        errorBox(`Cannot list blocks: ${(e as Error).message}`),
      );
    }
  }

  async function showBlock(height: number) {
    replace(detailBox, h('h2', { id: 'detail-h' }, `Block #${height}`), loading());
    try {
      const b = await getJson<BlockSummary & { certificate: { votes: unknown[] } }>(`/v1/blocks/${height}`);
      replace(
        detailBox,
        h('h2', { id: 'detail-h' }, `Block #${height}`),
        h(
          'dl',
          { class: 'facts' },
          h('dt', null, 'Hash'),
          h('dd', null, h('code', { class: 'key' }, b.hash)),
          h('dt', null, 'Proposed'),
          h(
            'dd',
            null,
            `${time(b.header.timestamp)} by validator ${b.header.proposer} in view ${b.header.view}`,
          ),
          h('dt', null, 'Commit certificate'),
          h('dd', null, `${b.certificate.votes.length} signed commit votes`),
        ),
        h('h3', null, `Transactions (${b.txIds.length})`),
        b.txIds.length === 0
          ? empty('No transactions in this block.')
          : h(
              'ul',
              { class: 'rows' },
              ...b.txIds.map((id, i) =>
                h(
                  'li',
                  { class: 'row' },
                  id
                    ? h(
                        'button',
                        { type: 'button', class: 'link', onclick: () => void showTx(id) },
                        h('code', null, shortKey(id)),
                      )
                    : 'undecodable bytes',
                  h(
                    'small',
                    null,
                    b.receipts?.[i]
                      ? `${b.receipts[i]!.status}${b.receipts[i]!.code ? ` (${b.receipts[i]!.code})` : ''}`
                      : '',
                  ),
                ),
              ),
            ),
      );
    } catch (e) {
      replace(detailBox, h('h2', { id: 'detail-h' }, `Block #${height}`), errorBox((e as Error).message));
    }
  }

  async function showTx(id: string) {
    replace(detailBox, h('h2', { id: 'detail-h' }, 'Transaction'), loading());
    try {
      const tx = await getJson<{
        id: string;
        status: string;
        height?: number;
        position?: number;
        receipt?: { status: string; code?: string };
        tx?: { type: number | string; sender: string; nonce: number; timestamp: number };
      }>(`/v1/transactions/${id}`);
      const verdict = h(
        'p',
        { role: 'status' },
        tx.status === 'pending' ? 'Pending: no proof yet.' : 'Verifying the inclusion proof…',
      );
      replace(
        detailBox,
        h('h2', { id: 'detail-h' }, 'Transaction'),
        h(
          'dl',
          { class: 'facts' },
          h('dt', null, 'Id'),
          h('dd', null, h('code', { class: 'key' }, tx.id)),
          h('dt', null, 'Status'),
          h('dd', null, `${tx.status}${tx.receipt?.code ? ` (${tx.receipt.code})` : ''}`),
          tx.height !== undefined && [
            h('dt', null, 'Block'),
            h('dd', null, `#${tx.height}, position ${tx.position}`),
          ],
          tx.tx && [
            h('dt', null, 'Type'),
            h(
              'dd',
              null,
              typeof tx.tx.type === 'number'
                ? `${txTypeName(tx.tx.type) ?? 'unknown'} (${tx.tx.type})`
                : tx.tx.type,
            ),
          ],
          tx.tx && [h('dt', null, 'Sender'), h('dd', null, h('code', null, shortKey(tx.tx.sender)))],
          tx.tx && [h('dt', null, 'Signed at'), h('dd', null, time(tx.tx.timestamp))],
        ),
        verdict,
      );
      if (tx.status === 'pending') return;
      const p = await getJson<{
        tx?: string;
        leaf: string;
        index: number;
        proof: string[];
        header: string;
        certificate: string;
        receipt?: string;
        receiptProof?: string[];
        receiptsRoot?: string;
        outcome?: { stateProof: string; height: number; header: string; certificate: string };
      }>(`/v1/transactions/${id}/proof`);
      try {
        const header = decodeBlockHeader(fromHex(p.header));
        const cert = decodeCommitCertificate(fromHex(p.certificate));
        const path = p.proof.map(fromHex);
        // A transaction naming a patient comes without its bytes (docs/api.md, "Patient data on the
        // chain routes"): its leaf hash still proves its place in the certified block.
        if (p.tx !== undefined) {
          verifyTransactionProof(fromHex(p.tx), p.index, path, header, cert, validators, referenceVerifier);
        } else {
          verifyTransactionLeafProof(
            fromHex(p.leaf),
            p.index,
            path,
            header,
            cert,
            validators,
            referenceVerifier,
          );
        }
        // ADR 0123: inclusion is not acceptance; where the state commits to receipts, prove the outcome.
        let outcome = '';
        if (p.receipt !== undefined && p.receiptProof !== undefined && p.receiptsRoot !== undefined) {
          if (p.outcome === undefined) {
            outcome =
              ' Its outcome is not certified yet (the next blocks certify it; on a quiet chain about 5 s after the last transaction): reopen it to check.';
          } else {
            const { receipt } = verifyTransactionOutcome(
              p.tx !== undefined ? { bytes: fromHex(p.tx) } : { leafHash: fromHex(p.leaf) },
              outcomeProofFromJson(p)!,
              () => validators,
              referenceVerifier,
            );
            outcome = ` Its outcome, proven by the state certified at block #${p.outcome.height}: ${
              receipt.status === 'accepted' ? 'accepted' : `rejected (${receipt.code})`
            }.`;
          }
        }
        verdict.className = 'ok';
        replace(
          verdict,
          `✔ Proof verified in this browser: transaction ${p.index} of block #${header.height}, whose header carries a commit certificate signed by a quorum of the ${validators.length} validators.${outcome}${p.tx === undefined ? ' It names a patient, so the node shows its leaf hash, not its bytes.' : ''}`,
        );
      } catch (e) {
        verdict.className = 'bad';
        replace(verdict, `✘ The proof does not verify: ${(e as Error).message}`);
      }
    } catch (e) {
      replace(
        detailBox,
        h('h2', { id: 'detail-h' }, 'Transaction'),
        errorBox(
          e instanceof ApiProblem && e.code === 'TX_NOT_FOUND'
            ? 'No transaction with this id.'
            : (e as Error).message,
        ),
      );
    }
  }

  const txInput = h('input', {
    type: 'text',
    id: 'tx-lookup',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: '64 hex characters',
  });
  const lookup = h(
    'form',
    {
      class: 'inline-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const v = txInput.value.trim().toLowerCase();
        if (/^[0-9a-f]{64}$/.test(v)) void showTx(v);
        else if (/^[0-9]+$/.test(v)) void showBlock(Number(v));
        else
          replace(
            detailBox,
            h('h2', { id: 'detail-h' }, 'Explorer'),
            errorBox('Enter a block height or a 64-hex transaction id.'),
          );
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'tx-lookup' }, 'Block height or transaction id'), txInput),
    h('button', { type: 'submit' }, 'Look up'),
  );

  // tx/s and commit latency: block events are counted into 5 s buckets; the latency of each bucket is
  // the mean of the node's commit-latency histogram over it (delta of _sum over delta of _count).
  const samples: { t: number; txs: number; latency: number | null }[] = [];
  let bucketStart = Date.now();
  let bucketTxs = 0;
  let prevLatency: { sum: number; count: number } | undefined;
  let chart: uPlot | undefined;
  let stopResize: (() => void) | undefined;
  const closeBucket = async () => {
    const now = Date.now();
    if (now - bucketStart < SAMPLE_MS) return;
    let latency: number | null = null;
    try {
      const m = commitLatencyTotals(await getText('/metrics'));
      if (m && prevLatency && m.count > prevLatency.count)
        latency = ((m.sum - prevLatency.sum) / (m.count - prevLatency.count)) * 1000;
      prevLatency = m ?? prevLatency;
    } catch {
      // metrics are optional for the chart
    }
    samples.push({ t: now / 1000, txs: (bucketTxs * 1000) / (now - bucketStart), latency });
    if (samples.length > MAX_SAMPLES) samples.shift();
    bucketStart = now;
    bucketTxs = 0;
    drawRates();
  };
  const drawRates = () => {
    const data: uPlot.AlignedData = [
      samples.map((s) => s.t),
      samples.map((s) => s.txs),
      samples.map((s) => s.latency),
    ];
    if (chart) {
      chart.setData(data);
      return;
    }
    if (samples.length < 2) return;
    const width = Math.max(240, ratesBox.clientWidth - 32);
    replace(ratesBox, h('h2', { id: 'rate-h' }, 'Throughput and commit latency'));
    chart = new uPlot(
      {
        width,
        height: 200,
        legend: { live: false },
        scales: { x: { time: true }, tx: {}, ms: {} },
        axes: [
          { stroke: '#333' },
          { scale: 'tx', label: 'tx/s', stroke: '#0b5cad', size: 48 },
          { scale: 'ms', side: 1, label: 'latency ms', stroke: '#a33b00', size: 56, grid: { show: false } },
        ],
        series: [
          {},
          { label: 'tx/s', scale: 'tx', stroke: '#0b5cad', width: 1.5 },
          { label: 'commit latency (ms)', scale: 'ms', stroke: '#a33b00', width: 1.5, spanGaps: true },
        ],
      },
      data,
      ratesBox,
    );
    // Follow the card's width (phone rotated, window resized): the canvas has a fixed size.
    let last = ratesBox.clientWidth;
    const resize = new ResizeObserver(() => {
      if (ratesBox.clientWidth === last) return;
      last = ratesBox.clientWidth;
      chart?.setSize({ width: Math.max(240, ratesBox.clientWidth - 32), height: 200 });
    });
    resize.observe(ratesBox);
    stopResize = () => resize.disconnect();
  };

  const refresh = throttle(() => {
    void loadStatus();
    void loadBlocks();
  }, 2_000);
  const offBlock = feed.onBlock((b: BlockEvent) => {
    bucketTxs += b.txIds.length;
    void closeBucket();
    refresh();
  });
  // Blocks applied while the stream was down are not replayed: re-read status and blocks once it is back.
  const offResume = feed.onResume(refresh);
  void loadStatus();
  void loadBlocks();
  // History before this page opened: tx/s per 5 s bucket from the newest 100 block headers (latency
  // history is not kept by the node, so it starts now).
  void getJson<{ blocks: BlockSummary[] }>('/v1/blocks?limit=100').then(
    (r) => {
      const buckets = new Map<number, number>();
      for (const b of r.blocks) {
        const k = Math.floor(b.header.timestamp / SAMPLE_MS);
        buckets.set(k, (buckets.get(k) ?? 0) + b.header.txCount);
      }
      const keys = [...buckets.keys()];
      if (keys.length === 0) return;
      const lastKey = Math.floor(Date.now() / SAMPLE_MS) - 1;
      const history: typeof samples = [];
      for (let k = Math.max(Math.min(...keys), lastKey - MAX_SAMPLES + 1); k <= lastKey; k++) {
        history.push({
          t: ((k + 1) * SAMPLE_MS) / 1000,
          txs: ((buckets.get(k) ?? 0) * 1000) / SAMPLE_MS,
          latency: null,
        });
      }
      samples.unshift(...history);
      bucketStart = (lastKey + 1) * SAMPLE_MS;
      drawRates();
    },
    () => undefined,
  );
  void getText('/metrics').then(
    (m) => {
      prevLatency = commitLatencyTotals(m);
    },
    () => undefined,
  );

  const el = h(
    'main',
    { id: 'main', class: 'view operator' },
    h('h1', null, 'Network'),
    h('div', { class: 'grid' }, statusBox, ratesBox),
    lookup,
    h('div', { class: 'grid' }, blocksBox, detailBox),
  );
  return {
    el,
    dispose: () => {
      offBlock();
      offResume();
      stopResize?.();
    },
  };
}
