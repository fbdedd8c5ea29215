// The end-of-file leak check: the last line of every test file calls noLeaks(), so its hook runs
// after the file's own after-hooks (they release what the file made). Anything still alive
// then — a shell session, a lab — fails the file by name instead of keeping its process from
// exiting (npm test also passes --test-force-exit).
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { liveResources } from '../../server/live.ts';
import { until } from './blocks.ts';

// Releases finish on timers and child exits (a lab's teardown takes a second or two): this long.
const SETTLE_MS = 15_000;

export function noLeaks(): void {
  after(async () => {
    try {
      await until(() => liveResources().length === 0, SETTLE_MS, 'resources to be released');
    } catch {
      assert.deepEqual(liveResources(), [], 'resources still alive after this file\'s tests');
    }
  }, { timeout: SETTLE_MS + 5_000 });
}
