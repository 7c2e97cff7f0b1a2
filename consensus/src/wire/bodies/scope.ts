// Data categories and grant scopes. A category names one kind of patient data a grant can cover:
// `vitals.<kind name>` for each reading kind (consensus/src/vitals/kinds.ts) and `alerts` (alerts and
// the alert policy). A scope is a category, a family wildcard `vitals.*`, or `*` (everything a grant can
// cover). Grants, consents and the audit trail are not categories: only the patient and guardians see them.

import { READING_KINDS, readingCategory } from '../../vitals/kinds.ts';

export const ALERTS_CATEGORY = 'alerts';
export const CATEGORIES: readonly string[] = [...READING_KINDS.map(readingCategory), ALERTS_CATEGORY];
export const SCOPES: readonly string[] = ['*', 'vitals.*', ...CATEGORIES];

export function isCategory(s: string): boolean {
  return CATEGORIES.includes(s);
}

export function isScope(s: string): boolean {
  return SCOPES.includes(s);
}

/** Whether a scope covers a category. */
export function scopeCovers(scope: string, category: string): boolean {
  if (scope === '*') return true;
  if (scope.endsWith('.*')) return category.startsWith(scope.slice(0, -1));
  return scope === category;
}

export function scopesCover(scopes: readonly string[], category: string): boolean {
  return scopes.some((s) => scopeCovers(s, category));
}
