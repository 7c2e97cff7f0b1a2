import t from 'tap';
import { repairLock } from './repair-lockfile.ts';

t.test('adds the platform entries the registry could not serve, once', (t) => {
  const lock = {
    packages: {
      'node_modules/@biomejs/biome': {
        version: '2.6.8',
        optionalDependencies: { '@biomejs/cli-linux-x64': '2.6.8', '@biomejs/cli-darwin-arm64': '2.6.8' },
      },
      'node_modules/@biomejs/cli-linux-x64': { version: '2.6.8' },
    } as Record<string, Record<string, unknown>>,
  };
  t.same(repairLock(lock), ['@biomejs/cli-darwin-arm64']);
  t.match(lock.packages['node_modules/@biomejs/cli-darwin-arm64'], {
    version: '2.6.8',
    os: ['darwin'],
    cpu: ['arm64'],
    optional: true,
  });
  t.same(
    lock.packages['node_modules/@biomejs/cli-linux-x64'],
    { version: '2.6.8' },
    'existing entries untouched',
  );
  t.same(repairLock(lock), [], 'idempotent');
  t.end();
});
