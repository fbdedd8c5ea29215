// The server's catalog is parsed once and again only after a runbook file changed.
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cachedCatalog, catalogFingerprint, loadCatalog } from '../server/runbook/catalog.ts';

const runbook = (id: string, title: string) => `---\nid: ${id}\ntitle: ${title}\n---\n\n## Step one\n\n\`\`\`sh\necho ${id}\n\`\`\`\n`;

function folder(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-catalog-'));
  fs.writeFileSync(path.join(dir, 'a.md'), runbook('a', 'First'));
  fs.writeFileSync(path.join(dir, 'b.md'), runbook('b', 'Second'));
  return dir;
}

test('unchanged files: the same parsed catalog every call, equal to a fresh load', (t) => {
  const dir = folder();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const get = cachedCatalog(dir);
  const first = get();
  assert.equal(get(), first, 'not parsed again');
  assert.deepEqual(first.entries, loadCatalog(dir).entries);
});

test('an edit, a new file, a new folder, a removal, a rename: each shows on the next call', (t) => {
  const dir = folder();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const get = cachedCatalog(dir);
  const titles = () => get().entries.map((e) => `${e.id}:${e.runbook?.title}`);
  assert.deepEqual(titles(), ['a:First', 'b:Second']);

  fs.writeFileSync(path.join(dir, 'a.md'), runbook('a', 'Fresh')); // same size as before
  assert.deepEqual(titles(), ['a:Fresh', 'b:Second']);

  fs.writeFileSync(path.join(dir, 'c.md'), runbook('c', 'Third'));
  assert.deepEqual(titles(), ['a:Fresh', 'b:Second', 'c:Third']);

  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'd.md'), runbook('d', 'Nested'));
  assert.deepEqual(titles(), ['a:Fresh', 'b:Second', 'c:Third', 'd:Nested']);

  fs.rmSync(path.join(dir, 'b.md'));
  assert.deepEqual(titles(), ['a:Fresh', 'c:Third', 'd:Nested']);

  fs.renameSync(path.join(dir, 'c.md'), path.join(dir, '_c.md')); // now skipped
  assert.deepEqual(titles(), ['a:Fresh', 'd:Nested']);
});

test('a rewrite that keeps size and modification time is still seen (the change time moves)', (t) => {
  const dir = folder();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const get = cachedCatalog(dir);
  const file = path.join(dir, 'a.md');
  const before = get();
  const { atime, mtime } = fs.statSync(file);
  fs.writeFileSync(file, runbook('a', 'Other'));
  fs.utimesSync(file, atime, mtime);
  const after = get();
  assert.notEqual(after, before);
  assert.equal(after.get('a')?.runbook?.title, 'Other');
});

test('files the catalog skips do not cause a parse', (t) => {
  const dir = folder();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const get = cachedCatalog(dir);
  const first = get();
  const fp = catalogFingerprint(dir);
  fs.writeFileSync(path.join(dir, 'README.md'), '# notes');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'x');
  fs.mkdirSync(path.join(dir, '.git'));
  fs.writeFileSync(path.join(dir, '.git', 'x.md'), runbook('x', 'Hidden'));
  assert.equal(catalogFingerprint(dir), fp);
  assert.equal(get(), first);
});

noLeaks();
