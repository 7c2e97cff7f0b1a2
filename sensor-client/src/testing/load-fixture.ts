// A small open-loop run for tests against the fake node: its schedule and pre-signed corpus.
import { buildCorpus } from '../load/corpus.ts';
import type { LoadRunConfig } from '../load/runner.ts';
import { buildSchedule } from '../load/schedule.ts';

export function smallLoad(cfg: LoadRunConfig, corpus: { chainId: string; seed: number; devices: number }) {
  const schedule = buildSchedule(cfg);
  return {
    schedule,
    corpus: buildCorpus(
      { ...corpus, nodes: cfg.nodes.length, startMs: Date.now(), rate: cfg.rate },
      schedule,
    ),
  };
}
