// Faults the service must survive: reconnects, observers, stalled viewers, floods, a shell
// that dies, an idle run past its grace period, and the server killed mid-block.
import { noLeaks } from './helpers/leaks.ts';
import { runStepwise, sessionDirsOf } from './helpers/cli.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import xtermHeadless from '@xterm/headless';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { TermClient } from './helpers/ws-client.ts';
import { until } from './helpers/blocks.ts';
import { readCast } from '../server/record/asciicast.ts';
import { RunStore } from '../server/record/store.ts';

const { Terminal } = xtermHeadless;
const ROOT = path.resolve(import.meta.dirname, '..');
const FIXTURES = path.join(ROOT, 'test/fixtures/api');
let s: TestServer;
let wsBase: string;
const auth = () => ({ authorization: `Bearer ${s.token}` });

before(async () => {
  s = await startTestServer(FIXTURES);
  wsBase = s.base.replace(/^http/, 'ws');
});
after(async () => {
  await s.stop();
});

async function bareRun(): Promise<string> {
  const r = await s.api('POST', '/api/runs', { runbook: null });
  assert.equal(r.status, 201);
  return r.json.id as string;
}

/** `stepwise serve` as its own process (a crash ends it, which an in-process server hides). */
function serverProcess(data: string, token: string, log = 'warn'): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/stepwise.js'), 'serve', '--port', '0', '--runbooks', FIXTURES, '--data', data], {
      env: { ...process.env, STEPWISE_TOKEN: token, STEPWISE_LOG: log },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /Open (http:\/\/[^/]+)\//.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Visible lines of a terminal fed `data`. */
async function render(data: string | Uint8Array, cols = 100, rows = 30): Promise<string[]> {
  const t = new Terminal({ cols, rows, allowProposedApi: true });
  await new Promise<void>((r) => t.write(data, r));
  const b = t.buffer.active;
  const lines: string[] = [];
  for (let i = b.viewportY; i < b.viewportY + rows; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
  t.dispose();
  return lines;
}

test('a reconnect gets the screen exactly as it is, including what ran while disconnected', async () => {
  const id = await bareRun();
  const a = await TermClient.connect(`${wsBase}/ws/runs/${id}`, auth());
  await a.waitEvent('screen');
  a.type('for i in 1 2 3; do echo "before-$i"; done\r');
  await a.waitOutput(/before-3/);
  a.close();
  // the command keeps running and its output is recorded while nobody watches
  const live = s.ctx.runs.get(id)!;
  live.session.write('printf "\\033[1;31mwhile-away\\033[0m %s\\n" $((6*7))\r');
  await until(() => fs.readFileSync(live.castPath, 'utf8').includes('while-away') || (live.flushRecording(), false), 5000, 'recorded');
  await until(() => live.session.state === 'idle');
  const b = await TermClient.connect(`${wsBase}/ws/runs/${id}`, auth());
  const screen = await b.waitEvent('screen');
  const restored = await render(screen.data);
  live.flushRecording();
  const recorded = readCast(live.castPath).events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
  assert.deepEqual(restored, await render(recorded), 'restored screen equals the screen the recording produces');
  assert.ok(restored.some((l) => l.includes('while-away 42')));
  assert.match(screen.data, /\x1b\[[0-9;]*31[;m]/, 'colours survive');
  b.close();
  await s.api('DELETE', `/api/runs/${id}`);
});

test('an observer watches read-only: its keystrokes never reach the shell', async () => {
  const id = await bareRun();
  const op = await TermClient.connect(`${wsBase}/ws/runs/${id}`, auth());
  const obs = await TermClient.connect(`${wsBase}/ws/runs/${id}?observe=1`, auth());
  assert.equal((await obs.waitEvent('hello')).role, 'viewer');
  await op.waitEvent('screen');
  await obs.waitEvent('screen');
  obs.type('touch /tmp/stepwise-observer-wrote-this; echo OBSERVER\r');
  op.type('echo "operator-$((1+1))"\r');
  await obs.waitOutput(/operator-2/);
  assert.doesNotMatch(op.output, /OBSERVER/);
  assert.ok(!fs.existsSync('/tmp/stepwise-observer-wrote-this'));
  op.close();
  obs.close();
  await s.api('DELETE', `/api/runs/${id}`);
});

test('a stalled viewer neither stalls the session nor the operator, and is resynced from the screen', async () => {
  const id = await bareRun();
  const op = await TermClient.connect(`${wsBase}/ws/runs/${id}`, auth());
  const obs = await TermClient.connect(`${wsBase}/ws/runs/${id}?observe=1`, auth());
  await op.waitEvent('screen');
  await obs.waitEvent('screen');
  // The operator acks like a fast browser; the observer stops reading its socket.
  let acked = 0;
  op.ws.on('message', (d, bin) => {
    if (bin) {
      acked += (d as Buffer).length;
      op.send({ type: 'ack', bytes: (d as Buffer).length });
    }
  });
  (obs.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
  const before = process.memoryUsage().rss;
  op.type('head -c 30000000 /dev/zero | base64 -w 200; echo FLOOD-$((1+1))-DONE\r');
  await op.waitOutput(/FLOOD-2-DONE/, 60_000);
  const grew = process.memoryUsage().rss - before;
  assert.ok(acked > 20_000_000, `operator got the flood (${acked} bytes)`);
  assert.ok(grew < 64 * 1024 * 1024, `server memory grew ${grew} bytes`);
  (obs.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  await until(() => obs.events.filter((e) => e.type === 'screen').length >= 2, 20_000, 'observer resynced');
  op.close();
  obs.close();
  await s.api('DELETE', `/api/runs/${id}`);
});

test('Ctrl-C stops a flood at once', async () => {
  const id = await bareRun();
  const op = await TermClient.connect(`${wsBase}/ws/runs/${id}`, auth());
  await op.waitEvent('screen');
  op.ws.on('message', (d, bin) => bin && op.send({ type: 'ack', bytes: (d as Buffer).length }));
  const live = s.ctx.runs.get(id)!;
  op.type('yes stepwise-flood\r');
  await op.waitOutput(/stepwise-flood\r?\nstepwise-flood/);
  assert.equal(live.session.state, 'busy', 'the flood is running');
  const t0 = Date.now();
  op.type('\x03');
  await until(() => live.session.state === 'idle', 10_000, 'prompt back');
  console.log(`# prompt back ${Date.now() - t0} ms after Ctrl-C in a flood`);
  // the flood is over, not just hidden behind a prompt: nothing of it follows a new command
  op.type('echo after-$((40+2))\r');
  await op.waitOutput(/after-42/);
  await until(() => live.session.state === 'idle', 10_000, 'prompt after the echo');
  assert.doesNotMatch(op.output.slice(op.output.lastIndexOf('after-42')), /stepwise-flood/, 'the flood stopped');
  op.close();
  await s.api('DELETE', `/api/runs/${id}`);
});

test('the shell dies (kill -9 $$): the run reports it, and a new run can resume it', async () => {
  const r = await s.api('POST', '/api/runs', { runbook: 'basics' });
  const id = r.json.id;
  const t = await TermClient.connect(`${wsBase}/ws/runs/${id}`, auth());
  assert.equal((await s.api('POST', `/api/runs/${id}/steps/greet/execute`, {})).json.status, 'passed');
  t.type('kill -9 $$\r');
  await t.waitEvent('session-ended');
  await until(() => !s.ctx.runs.get(id));
  const ended = await s.api('POST', `/api/runs/${id}/steps/korean/execute`, {});
  assert.equal(ended.json.error.code, 'SESSION_ENDED');
  const again = await s.api('POST', '/api/runs', { runbook: 'basics', resume: id });
  assert.equal(again.status, 201, JSON.stringify(again.json));
  const k = await s.api('POST', `/api/runs/${again.json.id}/steps/korean/execute`, {});
  assert.equal(k.json.status, 'passed');
  t.close();
  await s.api('DELETE', `/api/runs/${again.json.id}`);
});

test('a run nobody watches or uses ends after its grace period; a watched one does not', async () => {
  const id = await bareRun();
  const watched = await bareRun();
  const w = await TermClient.connect(`${wsBase}/ws/runs/${watched}`, auth());
  await w.waitEvent('screen');
  s.ctx.runs.reapIdle(300, 50);
  await until(() => !s.ctx.runs.get(id), 5000, 'idle run reaped');
  assert.ok(s.ctx.runs.get(watched), 'the watched run lives on');
  w.close();
  await until(() => !s.ctx.runs.get(watched), 5000, 'reaped once unwatched');
  s.ctx.runs.reapIdle(600_000);
});

test('server killed (kill -9) mid-block: restart marks the run interrupted, records intact, resumable', async () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-kill-'));
  const token = 'kill-test-token-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  const startServer = () => serverProcess(data, token);
  const api = async (url: string, method: string, p: string, body?: unknown) => {
    const res = await fetch(url + p, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as any };
  };
  const first = await startServer();
  const run = (await api(first.url, 'POST', '/api/runs', { runbook: 'basics' })).json;
  assert.equal((await api(first.url, 'POST', `/api/runs/${run.id}/steps/greet/execute`, {})).json.status, 'passed');
  const term = await TermClient.connect(`${first.url.replace('http', 'ws')}/ws/runs/${run.id}`, { authorization: `Bearer ${token}` });
  term.type('for i in $(seq 1 1000); do echo "tick-$i"; sleep 0.01; done\r');
  await term.waitOutput(/tick-20\b/);
  // the recorder flushes periodically: kill only once some ticks are on disk
  const castFile = path.join(data, 'casts', `${run.id}.cast`);
  await until(() => fs.existsSync(castFile) && fs.readFileSync(castFile, 'utf8').includes('tick-2'), 10_000, 'ticks flushed to the recording');
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  term.close();
  // The next stepwise command of any kind (not only serve) closes what the dead server left:
  // its run is interrupted, chained and sealed, and its session folder removed.
  assert.equal(sessionDirsOf(first.child.pid!).length, 1, 'the killed server could not remove its session folder');
  const listed = runStepwise(['runs', '--data', data]);
  assert.match(listed.stdout, new RegExp(`^${run.id}\\s+interrupted`, 'm'), listed.stdout + listed.stderr);
  assert.deepEqual(sessionDirsOf(first.child.pid!), [], 'the dead server\'s session folder is removed');
  assert.equal(runStepwise(['audit', 'verify', run.id, '--data', data]).code, 0, 'the chain verifies, the recording sealed');

  const second = await startServer();
  try {
    const rec = (await api(second.url, 'GET', `/api/runs/${run.id}`)).json;
    assert.equal(rec.status, 'interrupted');
    assert.equal(rec.steps.find((v: any) => v.stepId === 'greet').status, 'passed');
    const cast = readCast(path.join(data, 'casts', `${run.id}.cast`));
    assert.equal(cast.header.version, 2);
    assert.ok(cast.events.map((e) => e[2]).join('').includes('tick-'), 'output up to the kill is recorded');
    const store = RunStore.open(data);
    assert.equal(store.getRun(run.id)!.status, 'interrupted');
    store.close();
    const resumed = await api(second.url, 'POST', '/api/runs', { runbook: 'basics', resume: run.id });
    assert.equal(resumed.status, 201, JSON.stringify(resumed.json));
    const next = await api(second.url, 'POST', `/api/runs/${resumed.json.id}/steps/korean/execute`, {});
    assert.equal(next.json.status, 'passed');
  } finally {
    await stopProcess(second.child);
    fs.rmSync(data, { recursive: true, force: true });
  }
});

test('no request crashes the server: resets mid-download, an unreadable recording, resets during refused upgrades, unparsable URLs', async () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-crash-'));
  const token = 'crash-test-token-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  const srv = await serverProcess(data, token, 'error'); // hundreds of refusals are logged as warnings
  const { port } = new URL(srv.url);
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const alive = async () => {
    assert.equal(srv.child.exitCode, null, 'the server process is still running');
    assert.equal((await fetch(srv.url + '/healthz')).status, 200, 'and answers');
  };
  /** Sends `request` on a raw connection, then resets it (RST) once `when` says so. */
  const resetAfter = (request: string, when: (received: number) => boolean) =>
    new Promise<number>((resolve) => {
      let received = 0;
      const c = net.connect(Number(port), '127.0.0.1', () => {
        c.write(request);
        if (when(0)) c.resetAndDestroy();
      });
      c.on('data', (d) => {
        received += d.length;
        if (when(received)) c.resetAndDestroy();
      });
      c.on('close', () => resolve(received));
      c.on('error', () => {}); // ours: the reset itself
    });
  try {
    const run = (await (await fetch(srv.url + '/api/runs', { method: 'POST', headers, body: '{"runbook":null}' })).json()) as { id: string };
    await fetch(`${srv.url}/api/runs/${run.id}`, { method: 'DELETE', headers, body: '{}' });
    // a recording far larger than the socket buffers, so the download is mid-way when reset
    const castFile = path.join(data, 'casts', `${run.id}.cast`);
    const line = JSON.stringify([1.5, 'o', 'x'.repeat(1000)]) + '\n';
    fs.appendFileSync(castFile, line.repeat(32 * 1024));
    const get = `GET /api/runs/${run.id}/recording.cast HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\n\r\n`;
    for (let i = 0; i < 5; i++) {
      const got = await resetAfter(get, (n) => n > 64 * 1024);
      assert.ok(got < fs.statSync(castFile).size, `reset mid-download (${got} bytes in)`);
    }
    await alive();
    // a recording that cannot be read (a directory where the file was): an error, not a crash
    fs.renameSync(castFile, castFile + '.moved');
    fs.mkdirSync(castFile);
    await fetch(`${srv.url}/api/runs/${run.id}/recording.cast`, { headers }).then((r) => r.text()).catch(() => 'connection dropped');
    await alive();
    // refused upgrades (wrong origin, no token, no run) whose client resets at once
    const upgrade = (extra: string) =>
      `GET /ws/runs/${run.id} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
    for (let i = 0; i < 100; i++) {
      for (const extra of ['Origin: http://evil.example\r\n', '', `Authorization: Bearer ${token}\r\n`]) await resetAfter(upgrade(extra), () => true);
    }
    await alive();
    // request targets no URL parser accepts: a 400 for an upgrade, a 4xx (never a 500) otherwise
    const reply = (request: string) =>
      new Promise<string>((resolve) => {
        let text = '';
        const c = net.connect(Number(port), '127.0.0.1', () => c.write(request));
        c.on('data', (d) => (text += d));
        c.on('end', () => c.end());
        c.on('close', () => resolve(text));
        c.on('error', () => {});
      });
    for (const target of ['//[', 'http://[/ws/runs/x', `//[/ws/runs/${run.id}`]) {
      const up = await reply(upgrade('').replace(`GET /ws/runs/${run.id} `, `GET ${target} `));
      assert.match(up, /^HTTP\/1\.1 400 /, `upgrade to ${target}: ${up.slice(0, 40)}`);
      const plain = await reply(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
      assert.match(plain, /^HTTP\/1\.1 4\d\d /, `GET ${target}: ${plain.slice(0, 40)}`);
    }
    await alive();
  } finally {
    await stopProcess(srv.child);
    fs.rmSync(data, { recursive: true, force: true });
  }
});

noLeaks();
