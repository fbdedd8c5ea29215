// End-to-end: the run report page, the runs list, Resume, Plan and Converge in the browser,
// with the real server and a real Chromium.
// Run: node --import tsx --test test/report-page.test.ts
// Needs Chromium at /usr/bin/chromium: without it these tests FAIL (they never skip).
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'puppeteer-core';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { launchBrowser, text, WAIT, type TestBrowser } from './helpers/browser.ts';
import { readCast } from '../static/cast-markers.ts';
import { defaultUser } from '../server/run/runs.ts';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures');
const TEST = { timeout: 90_000 };

let s: TestServer;
let chromium: TestBrowser;
let page: Page;
let runbooksDir: string;
/** The run the tests share: the first three steps passed, Failing failed, then ended. */
let failedRun = '';
/** A second run, of another runbook, ended without verdicts. */
let otherRun = '';
const pageErrors: string[] = [];

before(async () => {
  // A runbooks folder of our own: a test edits a runbook after a run.
  runbooksDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-report-runbooks-'));
  fs.copyFileSync(path.join(FIXTURES, 'report/report-tour.md'), path.join(runbooksDir, 'report-tour.md'));
  fs.copyFileSync(path.join(FIXTURES, 'e2e/tour.md'), path.join(runbooksDir, 'tour.md'));
  chromium = await launchBrowser();
  page = chromium.page;
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  s = await startTestServer(runbooksDir);
});

after(async () => {
  try {
    if (s) {
      for (const run of s.ctx.store.listRuns()) {
        if (s.ctx.runs.get(run.id)) assert.equal((await s.api('DELETE', `/api/runs/${run.id}`)).status, 200, `DELETE ${run.id}`);
      }
      assert.equal(s.ctx.runs.size, 0, 'no live runs are left');
    }
  } finally {
    await chromium?.close();
    await s?.stop();
    if (runbooksDir) fs.rmSync(runbooksDir, { recursive: true, force: true });
  }
});

// ---- helpers ----

async function newRun(body: Record<string, unknown>): Promise<string> {
  const r = await s.api('POST', '/api/runs', body);
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json.id as string;
}

async function runStep(runId: string, stepId: string, want: string): Promise<void> {
  const r = await s.api('POST', `/api/runs/${runId}/steps/${stepId}/execute`, {});
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.status, want, `${stepId}: ${JSON.stringify(r.json)}`);
}

const attr = (p: Page, selector: string, name: string) => p.$eval(selector, (el, n) => el.getAttribute(n as string), name);

async function runIds(p: Page): Promise<string[]> {
  return p.$$eval('table.runs tr[data-run]', (rows) => rows.map((r) => (r as HTMLElement).dataset.run!));
}

// ---- tests ----

test('1. a run through the API: the report shows its header, steps, commands, outputs and exit codes', TEST, async () => {
  failedRun = await newRun({ runbook: 'report-tour', vars: { WHO: 'auditor' } });
  for (const step of ['greet', 'already-there', 'use-the-key']) await runStep(failedRun, step, 'passed');
  await runStep(failedRun, 'failing', 'failed');
  assert.equal((await s.api('DELETE', `/api/runs/${failedRun}`)).json.status, 'failed');
  const record = s.ctx.store.getRun(failedRun)!;

  const signedIn = await page.goto(`${s.base}/runs/${failedRun}/report?token=${encodeURIComponent(s.token)}`);
  assert.equal(signedIn?.status(), 200);
  assert.equal(new URL(page.url()).pathname, `/runs/${failedRun}/report`);

  // Header.
  assert.equal(await text(page, '#report-title'), 'Report tour');
  assert.equal(await text(page, '[data-runbook-id]'), 'report-tour');
  assert.equal(await text(page, '[data-run-id]'), failedRun);
  assert.equal(await text(page, '[data-version]'), record.contentHash!.slice(0, 12));
  assert.equal(await attr(page, '[data-version]', 'data-version'), record.contentHash);
  assert.match((await attr(page, '[data-version]', 'title'))!, new RegExp(record.contentHash!));
  assert.equal(await attr(page, '[data-run-status]', 'data-status'), 'failed');
  assert.match(await text(page, '.report-headline'), /Failed at “Failing”/);
  assert.equal(await text(page, '[data-fact="user"]'), record.user);
  assert.match(await text(page, '.facts'), /local/);
  assert.match(await text(page, '[data-fact="started"]'), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/);
  assert.match(await text(page, '[data-fact="ended"]'), /UTC$/);
  assert.match(await text(page, '[data-fact="duration"]'), /\d+(\.\d)? (ms|s)/);
  assert.equal(await page.$('[data-parent-run]'), null, 'a first run has no parent');
  assert.equal(await page.$('[data-drift]'), null, 'the runbook has not changed');

  // Timeline and steps, each with its verdict.
  const timeline = await page.$$eval('[data-timeline-step]', (rows) => rows.map((r) => `${(r as HTMLElement).dataset.timelineStep}=${(r as HTMLElement).dataset.status}`));
  assert.deepEqual(timeline, ['step-greet=passed', 'step-already-there=passed', 'step-use-the-key=passed', 'step-failing=failed', 'step-wipe=not-run']);
  assert.equal(await page.$$eval('[data-timeline-step="step-greet"] .tl-seg', (els) => els.length), 3);
  // Placed from data-geometry by the page (the CSP refuses style attributes).
  const placed = await page.$$eval('[data-timeline-step="step-greet"] .tl-seg', (els) => els.map((e) => [(e as HTMLElement).style.left, (e as HTMLElement).style.width]));
  assert.ok(placed.every(([left, width]) => /%$/.test(left!) && /%$/.test(width!)), JSON.stringify(placed));
  const steps = await page.$$eval('[data-step]', (els) => els.map((e) => `${(e as HTMLElement).dataset.step}=${(e as HTMLElement).dataset.status}`));
  assert.deepEqual(steps, ['greet=passed', 'already-there=passed', 'use-the-key=passed', 'failing=failed', 'wipe=not-run']);
  assert.match(await text(page, '[data-step="failing"] .step-reason'), /exited with 3/);

  // Every execution: command (as text, not markup), output, exit code, duration.
  const execs = await page.$$eval('[data-execution]', (els) => els.map((e) => (e as HTMLElement).dataset.blockId));
  assert.deepEqual(execs, ['greet', 'greet-again', 'greet-check', 'settle', 'settled-check', 'use-key', 'use-key-check', 'about-to-fail', 'failing-check']);
  // Secrets are masked in outputs.
  assert.equal(await text(page, '[data-block-id="use-key"] pre.output'), 'key is set: 20 characters for ****');
  assert.doesNotMatch(await page.content(), /hunter2/);
  assert.equal(await text(page, '[data-block-id="greet"] pre.code'), 'echo "hello-$WHO"');
  assert.equal(await text(page, '[data-block-id="greet"] pre.output'), 'hello-auditor');
  assert.equal(await attr(page, '[data-block-id="greet"] [data-exit-code]', 'data-exit-code'), '0');
  assert.match(await text(page, '[data-block-id="greet"] [data-duration]'), /\d+ ms|\d\.\d s/);
  assert.equal(await text(page, '[data-block-id="about-to-fail"] pre.output'), 'about to fail');
  assert.equal(await attr(page, '[data-block-id="about-to-fail"] [data-exit-code]', 'data-exit-code'), '3');
  assert.match(await text(page, '[data-block-id="about-to-fail"] .exec-reason'), /exited with 3/);
  assert.equal(await attr(page, '[data-block-id="failing-check"]', 'data-status'), 'skipped');
  assert.match(await text(page, '[data-block-id="failing-check"] .exec-reason'), /not run: the step’s commands failed/);

  // The report is linked from the step page's header and from the runs tables.
  await page.goto(`${s.base}/runs/${failedRun}/steps/failing`);
  assert.equal(await attr(page, '.run-head [data-report-link]', 'href'), `/runs/${failedRun}/report`);
  await page.goto(`${s.base}/`);
  assert.equal(await attr(page, `tr[data-run="${failedRun}"] [data-report-link]`, 'href'), `/runs/${failedRun}/report`);
  assert.equal(await attr(page, '.topnav a[href="/runs"]', 'href'), '/runs');
});

test('2. the recording plays in the page; clicking the second block execution seeks to its marker', TEST, async () => {
  pageErrors.length = 0;
  await page.goto(`${s.base}/runs/${failedRun}/report`);
  await page.waitForSelector('[data-player] .ap-player', WAIT);
  await page.waitForFunction(() => !!window.__stepwise?.player && document.querySelector('[data-execution][data-marker-index]') !== null, WAIT);

  // The markers the page gave the player are the recording's `m` events.
  const cast = await s.api('GET', `/api/runs/${failedRun}/recording.cast`);
  assert.equal(cast.status, 200);
  const { markers } = readCast(String(cast.json));
  assert.deepEqual(markers.map((m) => m[1]), [
    'greet/greet',
    'greet/greet-again',
    'greet/greet-check',
    'already-there/settle',
    'already-there/settled-check',
    'use-the-key/use-key',
    'use-the-key/use-key-check',
    'failing/about-to-fail',
  ]);
  assert.deepEqual(await page.evaluate(() => window.__stepwise!.markers), markers);

  const second = await page.$eval('[data-execution="2"]', (el) => ({ block: (el as HTMLElement).dataset.blockId, marker: (el as HTMLElement).dataset.markerIndex }));
  assert.deepEqual(second, { block: 'greet-again', marker: '1' });
  // The failing check never ran: no marker, no seek button.
  assert.equal(await page.$('[data-block-id="failing-check"] [data-action="seek"]'), null);

  await page.click('[data-execution="2"] [data-action="seek"]');
  const want = markers[1]![0];
  await page.waitForFunction((t: number) => Math.abs(window.__stepwise!.player!.getCurrentTime() - t) < 0.01, WAIT, want);
  assert.ok(await page.$('[data-execution="2"].is-current'), 'the execution is highlighted');

  // And the header of another execution seeks too.
  await page.click('[data-block-id="about-to-fail"] .exec-head .kind');
  await page.waitForFunction((t: number) => Math.abs(window.__stepwise!.player!.getCurrentTime() - t) < 0.01, WAIT, markers[7]![0]);
  assert.ok(await page.$('[data-block-id="about-to-fail"].is-current'));
  assert.deepEqual(pageErrors.filter((e) => /Content Security Policy|CompileError/i.test(e)), [], 'the CSP lets the player run');
});

test('3. export links download a valid JSON report, JUnit, Markdown and the recording', TEST, async () => {
  await page.goto(`${s.base}/runs/${failedRun}/report`);
  const links = await page.$$eval('[data-export]', (els) => els.map((e) => ({ format: (e as HTMLElement).dataset.export!, href: e.getAttribute('href')! })));
  assert.deepEqual(links.map((l) => l.format), ['json', 'junit', 'md', 'cast']);
  const got = await page.evaluate(async (hrefs: string[]) => {
    const out: Array<{ status: number; type: string; disposition: string; body: string }> = [];
    for (const h of hrefs) {
      const r = await fetch(h, { credentials: 'same-origin' });
      out.push({ status: r.status, type: r.headers.get('content-type') ?? '', disposition: r.headers.get('content-disposition') ?? '', body: await r.text() });
    }
    return out;
  }, links.map((l) => l.href));
  for (const g of got) {
    assert.equal(g.status, 200);
    assert.match(g.disposition, /attachment/);
  }
  const [json, junit, md, cast] = got as [typeof got[0], typeof got[0], typeof got[0], typeof got[0]];
  const report = JSON.parse(json.body);
  assert.equal(report.schema, 'stepwise-run-report/1');
  assert.equal(report.run.id, failedRun);
  assert.equal(report.totals.failed, 1);
  assert.match(junit.type, /xml/);
  assert.match(junit.body, /^<\?xml version="1.0" encoding="UTF-8"\?>/);
  assert.match(junit.body, /<testsuite [^>]*tests="5"/);
  assert.match(junit.body, /<failure /);
  assert.match(md.body, /Report tour/);
  assert.equal(JSON.parse(cast.body.split('\n')[0]!).version, 2);
});

test('4. the runs list filters by status, runbook and user (and so does GET /api/runs)', TEST, async () => {
  otherRun = await newRun({ runbook: 'e2e-tour' });
  assert.equal((await s.api('DELETE', `/api/runs/${otherRun}`)).json.status, 'ended');

  await page.goto(`${s.base}/runs`);
  assert.deepEqual(await runIds(page), [otherRun, failedRun]);
  assert.equal(await attr(page, '.topnav a[aria-current="page"]', 'href'), '/runs');

  await page.select('#f-status', 'failed');
  await Promise.all([page.waitForNavigation(), page.click('[data-action="filter"]')]);
  assert.equal(new URL(page.url()).searchParams.get('status'), 'failed');
  assert.deepEqual(await runIds(page), [failedRun]);
  assert.equal(await page.$eval('#f-status', (el) => (el as HTMLSelectElement).value), 'failed', 'the form keeps the filter');

  await page.select('#f-status', '');
  await page.select('#f-runbook', 'e2e-tour');
  await Promise.all([page.waitForNavigation(), page.click('[data-action="filter"]')]);
  assert.deepEqual(await runIds(page), [otherRun]);

  await page.goto(`${s.base}/runs?user=${encodeURIComponent(defaultUser())}&runbook=report-tour`);
  assert.deepEqual(await runIds(page), [failedRun]);
  await page.goto(`${s.base}/runs?user=nobody-at-all`);
  assert.deepEqual(await runIds(page), []);
  assert.match(await text(page, '.runs-results .empty'), /No runs match/);
  const today = new Date().toISOString().slice(0, 10);
  await page.goto(`${s.base}/runs?from=${today}&to=${today}&target=local`);
  assert.deepEqual(await runIds(page), [otherRun, failedRun]);
  await page.goto(`${s.base}/runs?to=2000-01-01`);
  assert.deepEqual(await runIds(page), []);

  const api = async (q: string) => (await s.api('GET', `/api/runs?${q}`)).json.runs.map((r: { id: string }) => r.id);
  assert.deepEqual(await api('status=failed'), [failedRun]);
  assert.deepEqual(await api(`user=${encodeURIComponent(defaultUser())}&target=local&runbook=e2e-tour`), [otherRun]);
  assert.deepEqual(await api(`since=${today}&until=${today}`), [otherRun, failedRun]);
  assert.deepEqual(await api(`since=${encodeURIComponent(s.ctx.store.getRun(otherRun)!.startedAt)}`), [otherRun]);
  assert.deepEqual(await api('until=2000-01-01T00:00:00Z'), []);
  const bad = await s.api('GET', '/api/runs?status=exploded');
  assert.deepEqual([bad.status, bad.json.error.field], [400, 'status']);
  assert.equal((await s.api('GET', '/api/runs?since=yesterday')).status, 400);
});

test('5. Plan on the overview lists every block with variables substituted and the secret masked; nothing runs', TEST, async () => {
  const before = s.ctx.store.listRuns().length;
  await page.goto(`${s.base}/runbooks/report-tour`);
  await page.$eval('#var-WHO', (el) => ((el as HTMLInputElement).value = ''));
  await page.type('#var-WHO', 'planner');
  await page.click('[data-action="plan"]');
  await page.waitForSelector('[data-plan]:not([hidden]) [data-plan-block]', WAIT);
  assert.match(await text(page, '[data-plan-summary]'), /local/);
  const blocks = await page.$$eval('[data-plan-block]', (els) => els.map((e) => (e as HTMLElement).dataset.planBlock));
  assert.deepEqual(blocks, ['greet', 'greet-again', 'greet-check', 'settle', 'settled-check', 'use-key', 'use-key-check', 'about-to-fail', 'failing-check', 'wipe', 'wipe-bsd', 'wipe-check']);
  assert.equal(await text(page, '[data-plan-block="greet"] pre'), 'echo "hello-planner"');
  assert.match(await text(page, '[data-plan-block="use-key"] pre'), /for \*\*\*\*"$/);
  assert.doesNotMatch(await page.content(), /hunter2/);
  assert.ok(await page.$('[data-plan-block="wipe"] [data-confirm]'), 'the destructive block is marked');
  assert.equal(await page.$('[data-plan-block="greet"] [data-confirm]'), null);
  // A block for another platform: skipped, with the reason.
  assert.equal(await attr(page, '[data-plan-block="wipe-bsd"]', 'data-action'), 'skip');
  assert.match(await text(page, '[data-plan-block="wipe-bsd"] .plan-reason'), /for freebsd only; target local is/);
  assert.equal(await attr(page, '[data-plan-block="greet"]', 'data-action'), 'run');
  assert.equal(s.ctx.store.listRuns().length, before, 'no run was started');

  // The plan API itself: masked secret, and the POST /api/runs error shape for a bad variable.
  const plan = await s.api('GET', '/api/runbooks/report-tour/plan?target=local&vars.WHO=api');
  assert.equal(plan.status, 200);
  assert.equal(plan.json.target.id, 'local');
  assert.equal(plan.json.steps[0].blocks[0].text, 'echo "hello-api"');
  assert.doesNotMatch(JSON.stringify(plan.json), /hunter2/);
  const bad = await s.api('GET', '/api/runbooks/report-tour/plan?vars.WHO=Not%20Valid');
  assert.deepEqual([bad.status, bad.json.error.code, bad.json.error.field], [400, 'VAR_PATTERN', 'vars.WHO']);

  // A bad value shows its error next to the field, as Start does.
  await page.type('#var-WHO', 'X');
  await page.click('[data-action="plan"]');
  const err = await page.waitForSelector('[data-error-for="vars.WHO"]:not([hidden])', WAIT);
  assert.match(await err!.evaluate((el) => el.textContent ?? ''), /does not match/);
});

test('6. converge: Run step on a step whose check already passes reports "already satisfied"', TEST, async () => {
  await page.goto(`${s.base}/runbooks/report-tour`);
  await page.click('#converge');
  await Promise.all([page.waitForNavigation(), page.click('[data-action="start"]')]);
  const m = /\/runs\/([^/]+)\/steps\/greet$/.exec(new URL(page.url()).pathname);
  assert.ok(m, `landed on the first step, got ${page.url()}`);
  const runId = m[1]!;
  assert.equal(s.ctx.store.getRun(runId)!.options.converge, true);

  await page.goto(`${s.base}/runs/${runId}/steps/already-there`);
  await page.waitForSelector('.conn[data-conn="live"]', WAIT);
  assert.match(await text(page, '.run-meta'), /converge/);
  await page.click('[data-action="run-step"]');
  await page.waitForSelector('.verdict[data-verdict="passed"]', WAIT);
  assert.match(await text(page, '.verdict-reason'), /already satisfied/);
  await page.waitForSelector('[data-block="settle"] .badge[data-status="skipped"]', WAIT);
  assert.match(await text(page, '[data-block="settle"] .result-reason'), /already satisfied/);
  await page.waitForSelector('[data-block="settled-check"] .badge[data-status="passed"]', WAIT);
  assert.equal((await s.api('DELETE', `/api/runs/${runId}`)).status, 200);
});

test('7. Resume on the failed run starts a new run linked to it, at the failed step', TEST, async () => {
  await page.goto(`${s.base}/runs/${failedRun}/report`);
  await Promise.all([page.waitForNavigation(), page.click('[data-action="resume"]')]);
  const m = /\/runs\/([^/]+)\/steps\/([^/]+)$/.exec(new URL(page.url()).pathname);
  assert.ok(m, `landed on a step page, got ${page.url()}`);
  const [, resumed, stepId] = m;
  assert.notEqual(resumed, failedRun);
  assert.equal(stepId, 'failing', 'the new run starts at the step that failed');
  await page.waitForSelector('.conn[data-conn="live"]', WAIT);
  assert.match(await text(page, '[data-resumed-note]'), new RegExp(`resumes run ${failedRun} from step “Failing”`));
  assert.equal(s.ctx.store.getRun(resumed!)!.parentRunId, failedRun);
  // /runs/<id> keeps opening the resume step, not the steps the parent got through.
  await page.goto(`${s.base}/runs/${resumed}`);
  assert.equal(new URL(page.url()).pathname, `/runs/${resumed}/steps/failing`);

  await page.goto(`${s.base}/runs/${resumed}/report`);
  assert.equal(await attr(page, '[data-parent-run]', 'data-parent-run'), failedRun);
  assert.equal(await attr(page, '[data-parent-run]', 'href'), `/runs/${failedRun}/report`);
  assert.equal(await attr(page, '[data-run-status]', 'data-status'), 'live');
  assert.equal(await page.$('[data-action="resume"]'), null, 'a live run is not offered for resuming');
  for (const step of ['greet', 'already-there', 'use-the-key']) assert.match(await text(page, `[data-step="${step}"] .step-earlier`), new RegExp(failedRun));
  assert.equal(await page.$('[data-step="failing"] .step-earlier'), null, 'the failed step is not counted as done');

  assert.match(await text(page, '[data-resumed-note]'), /from step “Failing”/);
  // The parent's report links forward to the run that resumed it.
  await page.goto(`${s.base}/runs/${failedRun}/report`);
  assert.equal(await attr(page, '[data-resumed-by] a', 'data-child-run'), resumed);

  // The step page of an ended, failed run offers Resume too.
  await page.goto(`${s.base}/runs/${failedRun}/steps/failing`);
  assert.ok(await page.$('[data-ended-note] [data-action="resume"]'));
  assert.equal((await s.api('DELETE', `/api/runs/${resumed}`)).status, 200);
});

test('8. after the runbook file changes, the report says so and shows the diff of the steps that ran', TEST, async () => {
  const file = path.join(runbooksDir, 'report-tour.md');
  const source = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, source.replace('echo "hello-$WHO"', 'echo "<b>hi</b>-$WHO"').replace('echo "wiped-$WHO"', 'echo "erased-$WHO"'));

  await page.goto(`${s.base}/runs/${failedRun}/report`);
  await page.waitForSelector('[data-drift]', WAIT);
  assert.match(await text(page, '[data-drift]'), /runbook has changed since this run/);
  // Only the steps the run went through: Wipe changed too, but it never ran.
  const changed = await page.$$eval('[data-drift-step]', (els) => els.map((e) => (e as HTMLElement).dataset.driftStep));
  assert.deepEqual(changed, ['greet']);
  const diff = await text(page, '[data-drift-step="greet"] pre[data-diff]');
  assert.match(diff, /^-echo "hello-\$WHO"$/m);
  assert.match(diff, /^\+echo "<b>hi<\/b>-\$WHO"$/m);
  assert.equal(await page.$('[data-diff] b'), null, 'the diff is text, not markup');
  // The commands are still shown as they ran.
  assert.equal(await text(page, '[data-block-id="greet"] pre.code'), 'echo "hello-$WHO"');
  // So does the ended run's step page: it renders the runbook the run pinned, not the edited file.
  await page.goto(`${s.base}/runs/${failedRun}/steps/greet`);
  assert.equal(await text(page, '[data-block="greet"] pre.code'), 'echo "hello-$WHO"');
  assert.equal(await page.$('.callout-warning'), null, 'no "showing the current file" notice: the pinned version is there');
});

noLeaks();
