// The suite's own rules, checked: every test file ends with the leak check.
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

test('every test file calls noLeaks() as its last statement', () => {
  const dir = import.meta.dirname;
  const missing = fs.readdirSync(dir).filter((f) => f.endsWith('.test.ts') && !/\nnoLeaks\(\);\s*$/.test(fs.readFileSync(path.join(dir, f), 'utf8')));
  assert.deepEqual(missing, []);
});

noLeaks();
