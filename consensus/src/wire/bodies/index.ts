export * from './bodies.ts';
export * from './errors.ts';
export * from './scope.ts';
