// Takes docs/screenshot.png and docs/screenshot-phone.png: the getting-started runbook's first
// step after running its first block, in Chromium at 1400x900 and at a phone's 390x844.
// A script, not a test:
//   node --import tsx test/screenshot.ts [output.png]   (the phone shot goes beside it, -phone)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { serve } from '../server/http/server.ts';
import { createLogger } from '../server/log.ts';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(import.meta.dirname, '..');
const OUT = path.resolve(process.argv[2] ?? path.join(ROOT, 'docs/screenshot.png'));
const PHONE_OUT = OUT.replace(/(\.png)?$/, '-phone.png');
const WAIT = { timeout: 20_000 };

async function main(): Promise<void> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium is needed at ${CHROMIUM}`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-shot-data-'));
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-shot-profile-'));
  const token = 'shot-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  // Test hooks: the script waits on the terminal's buffer (window.__stepwise).
  const srv = await serve({ host: '127.0.0.1', port: 0, runbooksDir: path.join(ROOT, 'runbooks'), dataDir, token, testHooks: true, log: createLogger('warn') });
  const base = srv.url.replace(/\/$/, '');
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars', `--user-data-dir=${profileDir}`],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900, deviceScaleFactor: 1 });
    await page.goto(`${base}/?token=${encodeURIComponent(token)}`);

    // Start the run the way a person does: overview, Start.
    await page.goto(`${base}/runbooks/getting-started`);
    await Promise.all([page.waitForNavigation(), page.click('[data-action="start"]')]);
    await page.waitForSelector('.conn[data-conn="live"]', WAIT);

    await page.click('[data-action="run-block"]');
    const first = await page.$eval('[data-action="run-block"]', (b) => (b as HTMLElement).dataset.blockId!);
    await page.waitForSelector(`[data-block="${first}"] .badge[data-status="passed"]`, WAIT);
    // Let xterm show what the block printed (its captured output's first line).
    const output = await page.$eval(`[data-block="${first}"] pre.output`, (el) => el.textContent ?? '');
    const line = output.split('\n').map((l) => l.trim()).find(Boolean) ?? '';
    await page.waitForFunction(
      (want: string) => {
        const buf = window.__stepwise?.term?.buffer.active;
        if (!buf) return false;
        for (let i = 0; i < buf.length; i++) if (buf.getLine(i)?.translateToString(true).includes(want)) return true;
        return false;
      },
      WAIT,
      line,
    );
    await page.mouse.move(700, 880);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

    fs.mkdirSync(path.dirname(OUT), { recursive: true });
    await page.screenshot({ path: OUT as `${string}.png` });
    console.log(`saved ${path.relative(process.cwd(), OUT) || OUT}`);

    // The same page on a phone: reloaded at that width, from the top.
    await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 1 });
    await page.reload();
    await page.waitForSelector('.conn[data-conn="live"]', WAIT);
    await page.waitForSelector(`[data-block="${first}"] .badge[data-status="passed"]`, WAIT);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await page.screenshot({ path: PHONE_OUT as `${string}.png` });
    console.log(`saved ${path.relative(process.cwd(), PHONE_OUT) || PHONE_OUT}`);
  } finally {
    await browser.close();
    for (const run of srv.ctx.store.listRuns()) srv.ctx.runs.end(run.id);
    await srv.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(profileDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
