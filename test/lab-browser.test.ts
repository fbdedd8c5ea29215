// A trainee walks one guide runbook (2.2, bridge networking) in Chromium on the lab target:
// starts a run on "lab", runs every step from its page (accepting the confirmations for the
// destructive blocks), and sees each step verify; the lab is gone afterwards.
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { launchBrowser, WAIT, waitForTerminal, type TestBrowser } from './helpers/browser.ts';
import { until } from './helpers/blocks.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUNBOOK = 'kvm-2.2-bridge-network';
let s: TestServer;
let chromium: TestBrowser;

before(async () => {
  s = await startTestServer(path.join(ROOT, 'runbooks'));
  chromium = await launchBrowser();
});
after(async () => {
  await chromium?.close();
  await s?.stop();
});

const netns = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

test(`walk ${RUNBOOK} in the browser on the lab target`, async () => {
  const page = chromium.page;
  page.on('dialog', (d) => void d.accept()); // the confirmations of destructive blocks
  await page.goto(`${s.base}/?token=${encodeURIComponent(s.token)}`);
  await page.goto(`${s.base}/runbooks/${RUNBOOK}`);
  await page.select('#target', 'lab');
  await Promise.all([page.waitForNavigation({ ...WAIT, timeout: 90_000 }), page.click('[data-action="start"]')]);
  assert.match(page.url(), /\/runs\/r\d+-[a-z2-7]+\/steps\//);
  const runId = /\/runs\/([^/]+)\//.exec(page.url())![1];
  await waitForTerminal(page, 'host1');

  const seen: Array<[string, string]> = [];
  for (;;) {
    const stepId = decodeURIComponent(/\/steps\/([^/?#]+)/.exec(page.url())![1]);
    await page.click('[data-action="run-step"]');
    await page.waitForFunction(
      () => ['passed', 'failed', 'warning', 'skipped'].includes(document.querySelector('[data-verdict]')?.getAttribute('data-verdict') ?? ''),
      { timeout: 240_000 },
    );
    const verdict = await page.$eval('[data-verdict]', (el) => [el.getAttribute('data-verdict')!, (el as HTMLElement).innerText.trim()]);
    seen.push([stepId, verdict[0]]);
    assert.notEqual(verdict[0], 'failed', `${stepId}: ${verdict[1]}`);
    const next = await page.$('a[data-next][rel="next"]');
    if (!next) break;
    // A DOM click: the page scrolls the verdict and pager into view smoothly, and a click at
    // coordinates taken mid-scroll can land beside the link. Lab steps share the machine: a minute.
    await Promise.all([page.waitForNavigation({ ...WAIT, timeout: 60_000 }), next.evaluate((el) => (el as HTMLElement).click())]);
  }
  assert.ok(seen.length >= 3, JSON.stringify(seen));
  assert.ok(seen.filter(([, v]) => v === 'passed').length >= seen.length - 1, JSON.stringify(seen));

  const rec = await s.api('GET', `/api/runs/${runId}`);
  assert.equal(rec.json.target, 'lab');
  const labId = /^host1 \(lab ([a-z0-9]+) /.exec(rec.json.options.targetInfo.host)?.[1];
  assert.ok(labId, rec.json.options.targetInfo.host);
  assert.match(netns(), new RegExp(`^sw-${labId}\\b`, 'm'));
  assert.equal((await s.api('DELETE', `/api/runs/${runId}`)).json.status, 'passed');
  // The lab is torn down asynchronously once its run ends.
  await until(() => !new RegExp(`^sw-${labId}\\b`, 'm').test(netns()), 15_000, 'the lab to be removed with the run');
});

noLeaks();
