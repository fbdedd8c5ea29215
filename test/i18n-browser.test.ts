// The interface in Korean, in a real Chromium: with Accept-Language: ko the overview shows the
// runbook's Korean translation and starts a run read in it; the step page's labels, the
// statuses and the verdict are Korean, before and after running a step; the header's toggle
// switches to English and the cookie keeps that choice over Accept-Language; ?lang=ko
// switches back. Run: node --import tsx --test test/i18n-browser.test.ts
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

const RUNBOOKS = path.resolve(import.meta.dirname, '../runbooks');
const TEST = { timeout: 120_000 };

let s: TestServer;
let chromium: TestBrowser;
let page: Page;
let runbooksDir: string;
let runId = '';

before(async () => {
  runbooksDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-i18n-runbooks-'));
  for (const f of ['getting-started.md', 'getting-started.ko.md']) fs.copyFileSync(path.join(RUNBOOKS, f), path.join(runbooksDir, f));
  chromium = await launchBrowser();
  page = chromium.page;
  await page.setExtraHTTPHeaders({ 'Accept-Language': 'ko-KR,ko;q=0.9,en;q=0.5' });
  s = await startTestServer(runbooksDir);
  await page.goto(s.signInUrl('/'));
});

after(async () => {
  try {
    if (s) for (const run of s.ctx.store.listRuns()) await s.api('DELETE', `/api/runs/${run.id}`);
  } finally {
    await chromium?.close();
    await s?.stop();
    fs.rmSync(runbooksDir, { recursive: true, force: true });
  }
});

const htmlLang = () => page.$eval('html', (el) => el.lang);

test('Accept-Language: ko — the overview is Korean and shows the Korean translation; Start runs it', TEST, async () => {
  await page.goto(`${s.base}/runbooks/getting-started`);
  assert.equal(await htmlLang(), 'ko');
  assert.equal(await text(page, 'h1'), 'Stepwise 시작하기', 'the title of getting-started.ko.md');
  assert.equal(await text(page, '.topnav a[href="/"]'), '런북');
  assert.equal(await text(page, '#start-h'), '실행 시작하기');
  assert.equal(await text(page, '[data-action="start"]'), '실행 시작');
  assert.match(await text(page, '.overview-steps'), /변수는 front matter에서 옵니다/);
  assert.equal(await page.$eval('.lang-toggle [aria-current="true"]', (a) => a.getAttribute('data-lang')), 'ko');

  // The plan (built from the source) shows the translation's titles and Korean words.
  await page.click('[data-action="plan"]');
  await page.waitForSelector('[data-plan]:not([hidden]) .plan-step', WAIT);
  assert.equal(await text(page, '.plan-step-title'), '변수는 front matter에서 옵니다');
  assert.match(await text(page, '[data-plan-summary]'), /^대상 local\(.+\): 5단계, 실행할 블록 \d+개/);

  await Promise.all([page.waitForNavigation(), page.click('[data-action="start"]')]);
  const m = /\/runs\/([^/]+)\/steps\/variables-come-from-the-front-matter$/.exec(new URL(page.url()).pathname);
  assert.ok(m, `landed on the first step, got ${page.url()}`);
  runId = m[1]!;
  const run = await s.api('GET', `/api/runs/${runId}`);
  assert.equal(run.status, 200);
  assert.equal(run.json.options?.lang ?? run.json.lang, 'ko', 'the run records that it was read in Korean');
});

test('the Korean step page: labels, statuses and the verdict in Korean; Run step → 통과', TEST, async () => {
  await page.goto(`${s.base}/runs/${runId}/steps/variables-come-from-the-front-matter`);
  await page.waitForSelector('.conn[data-conn="live"]', WAIT);
  assert.equal(await htmlLang(), 'ko');
  assert.equal(await text(page, '#step-title'), '변수는 front matter에서 옵니다');
  assert.equal(await text(page, '.step .eyebrow'), '5단계 중 1단계');
  assert.equal(await text(page, '[data-action="run-step"]'), '단계 실행');
  assert.equal(await text(page, '.verdict-title'), '아직 검증되지 않음');
  assert.equal(await text(page, '#terminal-h'), '터미널');
  assert.equal(await text(page, '.conn'), '연결됨');
  assert.equal(await text(page, '[data-progress-text]'), '5단계 중 0단계 완료');
  assert.equal(await text(page, '[data-step-item="variables-come-from-the-front-matter"] [data-step-status]'), '대기');
  const badges = await page.$$eval('.block .badge', (els) => els.map((e) => e.textContent));
  assert.ok(badges.length >= 2 && badges.every((b) => b === '대기'), `pending badges in Korean: ${badges}`);
  assert.match(await text(page, '.block-command .kind'), /^명령/);

  await page.click('[data-action="run-step"]');
  await page.waitForSelector('.verdict[data-verdict="passed"]', WAIT);
  assert.equal(await text(page, '.verdict-title'), '단계 통과');
  await page.waitForFunction(() => [...document.querySelectorAll('.block .badge')].every((b) => b.textContent === '통과'), WAIT);
  assert.equal(await text(page, '[data-step-item="variables-come-from-the-front-matter"] [data-step-status]'), '통과');
  assert.equal(await text(page, '[data-progress-text]'), '5단계 중 1단계 완료');
  assert.match(await text(page, '.block .result-meta'), /^종료 코드 0 · \d/);
  // The codes under the words stay the contract.
  assert.equal(await page.$eval('.block .badge', (b) => b.getAttribute('data-status')), 'passed');

  // Rendered anew by the server, the recorded results read the same.
  await page.reload();
  await page.waitForSelector('.conn[data-conn="live"]', WAIT);
  assert.equal(await text(page, '.verdict-title'), '단계 통과');
  assert.equal(await text(page, '.block .badge'), '통과');
});

test('the header toggle switches to English and the cookie keeps it over Accept-Language; ?lang=ko switches back', TEST, async () => {
  await page.goto(`${s.base}/runs/${runId}/steps/variables-come-from-the-front-matter`);
  await Promise.all([page.waitForNavigation(), page.click('.lang-toggle a[data-lang="en"]')]);
  assert.equal(await htmlLang(), 'en');
  const cookie = (await page.browserContext().cookies()).find((c) => c.name === 'stepwise_lang');
  assert.equal(cookie?.value, 'en');
  assert.equal(await text(page, '[data-action="run-step"]'), 'Run step');
  assert.equal(await text(page, '.verdict-title'), 'Step passed');
  // The run itself was read in Korean: its prose stays so; the interface around it is English.
  assert.equal(await text(page, '#step-title'), '변수는 front matter에서 옵니다');

  // Another page, Accept-Language still ko: the cookie decides.
  await page.goto(`${s.base}/runbooks/getting-started`);
  assert.equal(await htmlLang(), 'en');
  assert.equal(await text(page, 'h1'), 'Getting started with Stepwise');
  assert.equal(await text(page, '[data-action="start"]'), 'Start run');

  await page.goto(`${s.base}/runbooks/getting-started?lang=ko`);
  assert.equal(await htmlLang(), 'ko');
  assert.equal(await text(page, 'h1'), 'Stepwise 시작하기');
  assert.equal((await page.browserContext().cookies()).find((c) => c.name === 'stepwise_lang')?.value, 'ko');
});

test('the report of a run read in Korean: Korean titles from the translation, Korean words, the codes unchanged', TEST, async () => {
  await page.goto(`${s.base}/runs/${runId}/report?lang=ko`);
  assert.equal(await htmlLang(), 'ko');
  assert.equal(await text(page, '#report-title'), 'Stepwise 시작하기');
  assert.equal(await text(page, '#step-variables-come-from-the-front-matter-h'), '변수는 front matter에서 옵니다');
  assert.equal(await text(page, '[data-step="variables-come-from-the-front-matter"] [data-step-status]'), '통과');
  assert.equal(await page.$eval('[data-step="variables-come-from-the-front-matter"]', (el) => el.getAttribute('data-status')), 'passed');
  assert.equal(await text(page, '#timeline-h'), '타임라인');
  assert.match(await text(page, '.report-actions'), /내보내기/);
});

noLeaks();
