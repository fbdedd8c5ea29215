// A run stays pinned to the runbook as it was: snapshots and per-step drift.
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseRunbook } from '../server/runbook/parse.ts';
import { runbookDrift } from '../server/runbook/drift.ts';
import { saveSnapshot, loadSnapshot } from '../server/record/snapshot.ts';

const v1 = '# T\n\n## One\n\n```sh\necho one\n```\n\n## Two\n\n```sh\necho two\n```\n\n## Three\n\ntext\n';
const v2 = '# T\n\n## One\n\n```sh\necho one\n```\n\n## Two\n\n```sh\necho TWO --changed\n```\n\n## Four\n\nnew\n';

test('drift: unchanged, changed with a diff, removed, added', () => {
  const a = parseRunbook(v1, 't.md').runbook!;
  const b = parseRunbook(v2, 't.md').runbook!;
  const d = runbookDrift(v1, a, v2, b);
  assert.deepEqual(d.map((x) => [x.stepId, x.change]), [['one', 'unchanged'], ['two', 'changed'], ['three', 'removed'], ['four', 'added']]);
  assert.match(d[1].diff!, /^-echo two$/m);
  assert.match(d[1].diff!, /^\+echo TWO --changed$/m);
  const onlyRan = runbookDrift(v1, a, v2, b, new Set(['one', 'two']));
  assert.deepEqual(onlyRan.map((x) => x.stepId), ['one', 'two']);
});

test('snapshots are content-addressed and verified on load', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-snap-'));
  const rb = parseRunbook(v1, 't.md').runbook!;
  assert.equal(saveSnapshot(dir, rb.contentHash, v2), false);
  assert.equal(saveSnapshot(dir, rb.contentHash, v1), true);
  assert.equal(loadSnapshot(dir, rb.contentHash), v1);
  fs.writeFileSync(path.join(dir, 'snapshots', `${rb.contentHash}.md`), v2);
  assert.equal(loadSnapshot(dir, rb.contentHash), undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

noLeaks();
