// The readings of one kind for a chart window, as the dashboard draws them (DOM-free, unit-tested).
// The readings route pages oldest first (docs/api.md), and the dashboard draws at most MAX_READINGS per
// chart. Reading a busy window from its start and stopping at the budget would drop its newest end:
// the "latest" tile and the last stretch of the chart would be hours old while looking current (a day at
// the devnet's one set every 5 s is 17,280 readings). So a window that does not fit is read backward from
// its end, in whole slices, and the chart says from when it is drawn.

export interface Reading {
  kind: number;
  value: number;
  measuredAt: number;
}
export interface ReadingsPage {
  items: Reading[];
  next: string | null;
}
/** One page of `GET /v1/patients/{p}/readings?from&to&limit=PAGE_LIMIT&cursor`. */
export type PageFetch = (from: number, to: number, cursor: string | null) => Promise<ReadingsPage>;

export interface WindowReadings {
  /** Oldest first, every reading in [since, to). */
  items: Reading[];
  /** Where the drawn stretch starts: the window's start, or later when it held too many readings. */
  since: number;
  /** True when readings before `since` were left out. */
  truncated: boolean;
}

/** The route's largest page. */
export const PAGE_LIMIT = 1000;
/** Readings drawn per chart: bounded work (and bounded audited reads) per refresh. */
export const MAX_READINGS = 3000;
/** The shortest slice tried: no vital sign is measured thousands of times a second. */
const MIN_SLICE_MS = 1000;

/** All readings in [from, to) (`complete`), or the first pages read once they exceed `max`. */
async function readWhole(
  fetchPage: PageFetch,
  from: number,
  to: number,
  max: number,
): Promise<{ items: Reading[]; complete: boolean }> {
  const items: Reading[] = [];
  let cursor: string | null = null;
  do {
    const page: ReadingsPage = await fetchPage(from, to, cursor);
    items.push(...page.items);
    cursor = page.next;
    if (items.length > max || (cursor !== null && items.length >= max)) return { items, complete: false };
  } while (cursor !== null);
  return { items, complete: true };
}

export async function windowReadings(
  fetchPage: PageFetch,
  from: number,
  to: number,
  budget = MAX_READINGS,
): Promise<WindowReadings> {
  // The common case (an hour of a wearable): the whole window in one page.
  const first = await fetchPage(from, to, null);
  if (first.next === null) return { items: first.items, since: from, truncated: false };

  // Too many: read backward from `to`, newest slice first, each slice whole (a partial one would be its
  // oldest part and leave a hole), until the budget is spent. The first slice is sized from the first
  // page's density for about half a page, each next one from the density read so far to fill most of
  // what is left of the budget.
  const seen = first.items;
  const density = seen.length / Math.max(1, (seen.at(-1)?.measuredAt ?? from) - from + 1);
  let span = Math.min(to - from, Math.max(MIN_SLICE_MS, Math.floor(PAGE_LIMIT / 2 / density)));
  const slices: Reading[][] = [];
  let end = to;
  let remaining = budget;
  while (end > from && remaining > 0) {
    const start = Math.max(from, end - span);
    const slice = await readWhole(fetchPage, start, end, remaining);
    if (!slice.complete) {
      if (slices.length > 0) break;
      // Denser lately than the first page said: a shorter newest slice.
      if (span > MIN_SLICE_MS) {
        span = Math.max(MIN_SLICE_MS, Math.floor(span / 4));
        continue;
      }
      // Thousands in a second: draw what was read rather than nothing.
      const items = slice.items.slice(0, budget);
      return { items, since: items[0]?.measuredAt ?? start, truncated: true };
    }
    slices.unshift(slice.items);
    remaining -= slice.items.length;
    end = start;
    const read = budget - remaining;
    span = read === 0 ? span * 2 : Math.max(MIN_SLICE_MS, Math.floor((remaining * 0.8 * (to - end)) / read));
  }
  return { items: slices.flat(), since: end, truncated: end > from };
}
