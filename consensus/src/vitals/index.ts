export * from './kinds.ts';
export * from './news2.ts';
export * from './thresholds.ts';
