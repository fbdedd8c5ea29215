// The cast export (GET /api/runs/:id/report.cast) is streamed from the recording's file.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/blocks.ts';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/api');
let s: TestServer;
before(async () => {
  s = await startTestServer(FIXTURES);
});
after(async () => {
  await s.stop();
});

test('report.cast: the recording file byte for byte, as an attachment, audited; missing ones are 404', async () => {
  const created = await s.api('POST', '/api/runs', { runbook: null });
  assert.equal(created.status, 201);
  const id = created.json.id as string;
  const live = s.ctx.runs.get(id)!;
  // Over 64 KiB, so the body arrives in more than one chunk of the file stream.
  live.session.write(`head -c 200000 /dev/zero | base64 | tr A Q; echo CAST_$((6*7))_DONE\r`);
  await until(() => live.session.state === 'idle' && (live.flushRecording(), fs.readFileSync(live.castPath, 'utf8').includes('CAST_42_DONE')), 15_000, 'recorded');
  assert.equal((await s.api('DELETE', `/api/runs/${id}`)).status, 200);

  const res = await fetch(`${s.base}/api/runs/${id}/report.cast`, { headers: { authorization: `Bearer ${s.token}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/x-asciicast');
  assert.match(res.headers.get('content-disposition') ?? '', new RegExp(`^attachment; filename="?${id}\\.cast"?$`));
  const body = Buffer.from(await res.arrayBuffer());
  const file = fs.readFileSync(path.join(s.dataDir, 'casts', `${id}.cast`));
  assert.ok(file.length > 200_000);
  assert.ok(body.equals(file), 'the download is the file as recorded');
  const viewed = s.ctx.store.auditEvents(id).filter((e) => e.type === 'recording-viewed').map((e) => e.data.format);
  assert.deepEqual(viewed, ['cast']);

  fs.rmSync(path.join(s.dataDir, 'casts', `${id}.cast`));
  const gone = await s.api('GET', `/api/runs/${id}/report.cast`);
  assert.deepEqual([gone.status, gone.json.error.code], [404, 'NOT_FOUND']);
  const unknown = await s.api('GET', '/api/runs/r20200101000000-zzzzzz/report.cast');
  assert.equal(unknown.status, 404);
});

noLeaks();
