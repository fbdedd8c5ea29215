// The CLI's variable values from its flags (server/cli/var-sources.ts), shared by run and fleets.
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { varsFromFlags } from '../server/cli/var-sources.ts';

const files: Record<string, string> = { 'v.env': 'A=from-file\nB="two words"\n', 'bad.env': 'just-a-word\n' };
const read = (f: string) => {
  if (!(f in files)) throw Object.assign(new Error(`ENOENT: ${f}`), { code: 'ENOENT' });
  return files[f]!;
};
const bad = (kv: string) => `bad --var ${kv}`;

test('--var-file, then each --var (a later one wins); errors name the file, line or value', () => {
  assert.deepEqual(varsFromFlags({ vars: ['A=from-flag', 'C=x=y', 'C=z'], varFile: 'v.env' }, read, bad), { ok: true, value: { A: 'from-flag', B: 'two words', C: 'z' } });
  assert.deepEqual(varsFromFlags({ vars: [] }, read, bad), { ok: true, value: {} });
  assert.deepEqual(varsFromFlags({ vars: [], varFile: 'none.env' }, read, bad), { ok: false, error: '--var-file none.env: no such file' });
  const r = varsFromFlags({ vars: [], varFile: 'bad.env' }, read, bad);
  assert.ok(!r.ok && r.error.startsWith('bad.env:1: expected NAME=VALUE'), JSON.stringify(r));
  assert.deepEqual(varsFromFlags({ vars: ['=v'], varFile: 'v.env' }, read, bad), { ok: false, error: 'bad --var =v' });
  assert.deepEqual(varsFromFlags({ vars: ['novalue'] }, read, bad), { ok: false, error: 'bad --var novalue' });
});

noLeaks();
