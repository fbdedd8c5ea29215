// Chromium for the end-to-end tests (puppeteer-core): the launch flags, a fresh profile, and
// the page helpers the browser tests share. Without Chromium the tests FAIL (they never skip).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

// Servers these tests start build their browser bundle with the test hooks (window.__stepwise:
// the terminal, the player), which the production bundle leaves out (server/http/app.ts).
process.env.STEPWISE_TEST_HOOKS = '1';

export const CHROMIUM = '/usr/bin/chromium';
/** How long a wait for the page may take. */
export const WAIT = { timeout: 20_000 };

export interface TestBrowser {
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

/**
 * Chromium, headless, with a throwaway profile; one 1400x900 page that logs page errors.
 * Given `keepProfile`, the profile is that folder and outlives close() (a test reads its files).
 */
export async function launchBrowser(keepProfile?: string): Promise<TestBrowser> {
  assert.ok(fs.existsSync(CHROMIUM), `these tests need Chromium at ${CHROMIUM}`);
  const profileDir = keepProfile ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sw-e2e-profile-'));
  const removeProfile = () => keepProfile === undefined && fs.rmSync(profileDir, { recursive: true, force: true });
  let browser: Browser | undefined;
  try {
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profileDir}`,
      ],
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    page.on('pageerror', (err) => console.error('page error:', err));
    const b = browser;
    return {
      browser: b,
      page,
      async close() {
        await b.close();
        removeProfile();
      },
    };
  } catch (e) {
    await browser?.close();
    removeProfile();
    throw e;
  }
}

/** Waits until a line of the step page's xterm buffer contains `text`. */
export async function waitForTerminal(p: Page, text: string): Promise<void> {
  await p.waitForFunction(
    (s: string) => {
      const buf = window.__stepwise?.term?.buffer.active;
      if (!buf) return false;
      for (let i = 0; i < buf.length; i++) if (buf.getLine(i)?.translateToString(true).includes(s)) return true;
      return false;
    },
    WAIT,
    text,
  );
}

/** Every line of the step page's xterm buffer. */
export async function terminalLines(p: Page): Promise<string[]> {
  return p.evaluate(() => {
    const buf = window.__stepwise?.term?.buffer.active;
    const lines: string[] = [];
    if (!buf) return lines;
    for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? '');
    return lines;
  });
}

/** The rendered text of the first element matching `selector`, trimmed. */
export const text = (p: Page, selector: string): Promise<string> => p.$eval(selector, (el) => (el as HTMLElement).innerText.trim());
