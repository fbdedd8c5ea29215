// A secret variable's value never appears in clear anywhere Stepwise writes or sends: the live
// terminal stream, the recording, the database, the audit log, the reports, the server logs.
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve } from '../server/http/server.ts';
import { createLogger } from '../server/log.ts';
import { TermClient } from './helpers/ws-client.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const SECRET = 'open-sesame-42'; // the default of PASSWORD in test/fixtures/api/basics.md
const GIVEN = 'Given-Secret-9876';

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

test('secrets are masked in every artifact', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-secret-'));
  const logs: string[] = [];
  const token = 'secret-test-token-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  const srv = await serve({ host: '127.0.0.1', port: 0, token, runbooksDir: path.join(ROOT, 'test/fixtures/api'), dataDir, log: createLogger('debug', (l) => logs.push(l)) });
  const base = srv.url.replace(/\/$/, '');
  const api = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(base + p, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, text: await res.text() };
  };
  try {
    const runs: string[] = [];
    for (const vars of [{}, { PASSWORD: GIVEN }]) {
      const created = JSON.parse((await api('POST', '/api/runs', { runbook: 'basics', vars })).text);
      runs.push(created.id);
      const t = await TermClient.connect(`${base.replace('http', 'ws')}/ws/runs/${created.id}`, { authorization: `Bearer ${token}` });
      await t.waitEvent('screen');
      const step = await api('POST', `/api/runs/${created.id}/steps/greet/execute`, {});
      assert.match(step.text, /pw=\*\*\*\*/);
      // typed by hand too, and written in two pieces 50 ms apart (two reads of the pty)
      t.type(`p="$PASSWORD"; printf %s "\${p:0:5}"; sleep 0.05; printf '%s\\n' "\${p:5}"; echo "done-$((2+3))"\r`);
      await t.waitOutput(/done-5/);
      assert.doesNotMatch(t.output, new RegExp(`${SECRET}|${GIVEN}`), 'live stream');
      assert.match(t.output, /\*\*\*\*/);
      for (const f of ['json', 'junit', 'md', 'cast']) {
        const r = await api('GET', `/api/runs/${created.id}/report.${f}`);
        assert.equal(r.status, 200);
        assert.ok(!r.text.includes(SECRET) && !r.text.includes(GIVEN), `report.${f}`);
      }
      const rec = await api('GET', `/api/runs/${created.id}`);
      assert.ok(!rec.text.includes(SECRET) && !rec.text.includes(GIVEN), 'run record');
      t.close();
      await api('DELETE', `/api/runs/${created.id}`);
    }
    const page = await fetch(`${base}/runs/${runs[0]}/steps/greet`, { headers: { authorization: `Bearer ${token}` } });
    assert.ok(!(await page.text()).includes(SECRET), 'step page');
  } finally {
    await srv.close();
  }
  const files = filesUnder(dataDir);
  assert.ok(files.some((f) => f.endsWith('.cast')) && files.some((f) => f.endsWith('.jsonl')) && files.some((f) => f.endsWith('stepwise.db')));
  for (const f of files) {
    const bytes = fs.readFileSync(f);
    // A snapshot is a copy of the runbook file, which declares the default itself; a value
    // given for the run is in no file at all.
    const secrets = f.includes(`${path.sep}snapshots${path.sep}`) ? [GIVEN] : [SECRET, GIVEN];
    for (const s of secrets) assert.equal(bytes.indexOf(Buffer.from(s)), -1, `${path.relative(dataDir, f)} contains a secret`);
  }
  assert.ok(logs.length > 5);
  assert.ok(!logs.join('\n').includes(SECRET) && !logs.join('\n').includes(GIVEN), 'server logs');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

noLeaks();
