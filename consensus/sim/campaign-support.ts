// Shared by the campaign tests: how many seeds CI runs per (scenario, n). CI must stay within a few
// minutes on a shared 2-core machine, so the default is small; SIM_SEEDS_FACTOR=k runs k times as many
// (e.g. SIM_SEEDS_FACTOR=40 before a release).

export function seedsFor(base: number): number {
  const factor = Number(process.env['SIM_SEEDS_FACTOR'] ?? '1');
  return Math.max(1, Math.round(base * (Number.isFinite(factor) && factor > 0 ? factor : 1)));
}
