// Hostile content in a real Chromium: a runbook whose Markdown, titles, hints and variables
// try to inject markup and script, and a command whose output carries hostile terminal escape
// sequences (OSC 52 clipboard write, OSC 0/2 title, DECRQSS, a bracketed-paste end, title
// reports). Everything must render inert, and nothing the output provokes may reach the shell.
// The page's CSP is bypassed on purpose: escaping is what is tested; the CSP is a second layer.
// Needs Chromium at /usr/bin/chromium: without it these tests FAIL (they never skip).
import { noLeaks } from './helpers/leaks.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'puppeteer-core';
import { serve, type RunningServer } from '../server/http/server.ts';
import { createLogger } from '../server/log.ts';
import { launchBrowser, terminalLines, text, WAIT, waitForTerminal, type TestBrowser } from './helpers/browser.ts';
import { until } from './helpers/blocks.ts';

const TOKEN = 'hostile-token-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
const TEST = { timeout: 90_000 };
const PWN = (tag: string) => `window.__pwned='${tag}'`;
/** YAML accepts JSON strings: every hostile value goes into the front matter exactly. */
const q = (s: string) => JSON.stringify(s);

const HOSTILE = `---
id: hostile
title: ${q(`Hostile <script>${PWN('title')}</script><img src=x onerror="${PWN('title-img')}">`)}
summary: ${q(`<img src=x onerror="${PWN('summary')}"> "><svg onload="${PWN('summary-svg')}">`)}
section: ${q(`1"><script>${PWN('section')}</script>`)}
vars:
  WHO:
    default: ${q(`x"><img src=x onerror=${PWN('var-default')}>`)}
    describe: ${q(`<b onmouseover="${PWN('describe')}">who</b>`)}
---
# Hostile

Intro <script>${PWN('intro-script')}</script> and <img src=x onerror="${PWN('intro-img')}">.

[js link](javascript:${PWN('md-link')}) [mixed case](JaVaScRiPt:${PWN('md-case')}) [tab](java&#x09;script:${PWN('md-tab')})
[entity](&#106;avascript:${PWN('md-entity')}) [vb](vbscript:msgbox(1)) [data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)
<javascript:${PWN('autolink')}> ![img](javascript:${PWN('md-img')}) [ref][r] [spaced]( javascript:${PWN('md-space')})

[r]: javascript:${PWN('md-ref')}

<a href="javascript:${PWN('raw-a')}">raw anchor</a> <iframe src="javascript:${PWN('iframe')}"></iframe>

## Step <img src=x onerror="${PWN('step-title')}"> "quoted" </script>

Prose <svg onload="${PWN('prose-svg')}"></svg> and \`<script>${PWN('code-span')}</script>\`.

\`\`\`sh {id=print-hostile hint=${q(`"><img src=x onerror=${PWN('hint')}></script><script>${PWN('hint-script')}</script>`)}}
printf 'before-hostile\\n'
printf '\\033]0;PWNED-TITLE-0\\007\\033]2;PWNED-TITLE-2\\007'
printf '\\033]52;c;%s\\007' "$(printf 'echo PWNED-CLIPBOARD' | base64)"
printf '\\033P$qm\\033\\\\'
printf '\\033P$q\\r echo INJ-DCS-$((40+2))\\r\\033\\\\'
printf '\\033[?2004h\\033[201~echo INJ-PASTE-$((40+2))\\r\\n'
printf '\\033[21t\\033[20t\\033]l\\033\\\\'
printf '\\033]8;;javascript:${PWN('osc8')}\\033\\\\click\\033]8;;\\033\\\\\\n'
printf '<script>${PWN('output')}</script><img src=x onerror=${PWN('output-img')}>\\n'
printf 'after-hostile\\n'
\`\`\`

\`\`\`html
<script>${PWN('display-block')}</script>
\`\`\`

\`\`\`sh {id=hostile-check verify hint=${q(`</script><script>${PWN('check-hint')}</script><img src=x onerror=${PWN('check-hint-img')}>`)}}
echo '<img src=x onerror=${PWN('reason')}>'; exit 1
\`\`\`
`;

// A broken runbook: attribute injection through block ids. It must stay broken, and its
// diagnostics (which quote the bad values) must render as text.
const BROKEN = `---
id: hostile-broken
title: Hostile ids
---
# Hostile ids

## Step

\`\`\`sh {id="x\\" onmouseover=\\"${PWN('id-attr')}"}
echo one
\`\`\`

\`\`\`sh {"id":"<img src=x onerror=${PWN('id-json')}>","hint":"x"}
echo two
\`\`\`

\`\`\`sh {id=ok name=also}
echo three
\`\`\`
`;

let srv: RunningServer;
let chromium: TestBrowser;
let page: Page;
let base: string;
let dataDir: string;
let rbDir: string;
let runId = '';
const dialogs: string[] = [];

before(async () => {
  rbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-hostile-rb-'));
  fs.writeFileSync(path.join(rbDir, 'hostile.md'), HOSTILE);
  fs.writeFileSync(path.join(rbDir, 'hostile-broken.md'), BROKEN);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-hostile-data-'));
  srv = await serve({ host: '127.0.0.1', port: 0, runbooksDir: rbDir, dataDir, token: TOKEN, log: createLogger(process.env.STEPWISE_TEST_LOG ?? 'silent') });
  base = srv.url.replace(/\/$/, '');
  const catalog = srv.ctx.catalog();
  assert.equal(catalog.get('hostile')?.ok, true, JSON.stringify(catalog.get('hostile')?.diagnostics));
  assert.equal(catalog.get('hostile-broken')?.ok, false, 'attribute injection through ids is refused by the parser');

  chromium = await launchBrowser();
  page = chromium.page;
  await page.setBypassCSP(true);
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  // Traps, installed before any page script: clipboard writes and every frame the page sends.
  await page.evaluateOnNewDocument(() => {
    const w = window as unknown as { __clip: string[]; __wsSent: number[][]; __ws?: WebSocket };
    w.__clip = [];
    w.__wsSent = [];
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (this: WebSocket, d: string | ArrayBufferLike | Blob | ArrayBufferView) {
      w.__ws = this; // the terminal's socket, for a probe sent after the page's own frames
      if (typeof d !== 'string') {
        const bytes = ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array();
        w.__wsSent.push(Array.from(bytes));
      }
      return send.call(this, d as never);
    };
    if (navigator.clipboard) {
      navigator.clipboard.writeText = async (t: string) => void w.__clip.push(`writeText:${t}`);
      navigator.clipboard.write = async () => void w.__clip.push('write');
    }
    const exec = document.execCommand.bind(document);
    document.execCommand = (cmd: string, ...rest: unknown[]) => {
      if (/copy|cut/i.test(cmd)) w.__clip.push(`execCommand:${cmd}`);
      return exec(cmd, ...(rest as [boolean, string]));
    };
  });
});

after(async () => {
  try {
    for (const run of srv?.ctx.store.listRuns() ?? []) {
      if (srv.ctx.runs.get(run.id)) await fetch(`${base}/api/runs/${run.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    }
  } finally {
    await chromium?.close();
    await srv?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(rbDir, { recursive: true, force: true });
  }
});

/** Everything on the page that could run script or navigate to script. */
async function unsafeDom(p: Page): Promise<string[]> {
  return p.evaluate(() => {
    const bad: string[] = [];
    const URL_ATTRS = /^(href|src|action|formaction|xlink:href|srcdoc|data|poster|background)$/i;
    for (const el of Array.from(document.querySelectorAll('*'))) {
      for (const a of Array.from(el.attributes)) {
        if (/^on/i.test(a.name)) bad.push(`<${el.tagName.toLowerCase()} ${a.name}="${a.value}">`);
        const isIcon = el.tagName === 'LINK' && el.getAttribute('rel') === 'icon';
        if (URL_ATTRS.test(a.name) && !isIcon && /^\s*(javascript|vbscript|data):/i.test(a.value.replace(/[\u0000-\u001f]/g, ''))) {
          bad.push(`<${el.tagName.toLowerCase()} ${a.name}="${a.value}">`);
        }
      }
      if (el.tagName === 'SCRIPT' && !/^\/static\/[a-z]+-[A-Z0-9]+\.js$/.test(el.getAttribute('src') ?? '') && el.getAttribute('type') !== 'application/json') bad.push(`<script>${el.textContent}`);
      if (['IFRAME', 'OBJECT', 'EMBED', 'BASE'].includes(el.tagName)) bad.push(`<${el.tagName.toLowerCase()}>`);
      const action = el.tagName === 'FORM' ? el.getAttribute('action') : null;
      if (action !== null && (!action.startsWith('/') || action.startsWith('//'))) bad.push(`<form action="${action}">`);
    }
    for (const img of Array.from(document.images)) if (img.getAttribute('src') === 'x') bad.push('<img src=x>');
    for (const a of Array.from(document.querySelectorAll('a'))) if (/^\s*javascript:/i.test(a.href)) bad.push(`href ${a.href}`);
    return bad;
  });
}

async function assertInert(p: Page, where: string): Promise<void> {
  // img onerror fires in the task that marks a failed load complete: wait until every load is.
  await p.waitForFunction(() => Array.from(document.images).every((img) => img.complete), WAIT);
  assert.equal(await p.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned), undefined, `${where}: script ran`);
  assert.deepEqual(await unsafeDom(p), [], `${where}: unsafe markup in the DOM`);
  assert.deepEqual(dialogs, [], `${where}: a dialog opened`);
  assert.doesNotMatch(await p.title(), /PWNED/, `${where}: title`);
}

test('1. hostile Markdown, titles, hints and variables render inert on the index and overview', TEST, async () => {
  const res = await page.goto(`${base}/?token=${encodeURIComponent(TOKEN)}`);
  assert.equal(res?.status(), 200);
  assert.match(res?.headers()['content-security-policy'] ?? '', /script-src 'self'/, 'the CSP is still sent (bypassed here on purpose)');
  await assertInert(page, 'index');
  assert.match(await text(page, '[data-runbook="hostile"]'), /Hostile <script>/, 'the title is shown as text');
  assert.match(await text(page, '[data-runbook="hostile-broken"]'), /BAD_ATTRIBUTE|BAD_ATTRIBUTES_SYNTAX/);

  await page.goto(`${base}/runbooks/hostile`);
  await assertInert(page, 'overview');
  assert.match(await text(page, 'h1'), /^Hostile <script>window\.__pwned='title'<\/script><img src=x onerror=/);
  const main = await text(page, 'main');
  assert.match(main, /Intro <script>window\.__pwned='intro-script'<\/script>/, 'raw HTML in Markdown is text');
  assert.equal(await page.$eval('#var-WHO', (el) => (el as HTMLInputElement).value), `x"><img src=x onerror=${PWN('var-default')}>`, 'the hostile default is a value, not markup');
  // what a click would open: every link resolves to http(s) (java%09script: is a relative path)
  const links = await page.$$eval('main a', (as) => as.map((a) => `${(a as HTMLAnchorElement).protocol} ${a.getAttribute('href')}`));
  assert.ok(links.every((l) => /^https?: /.test(l)), links.join('\n'));

  await page.goto(`${base}/runbooks/hostile-broken`);
  await assertInert(page, 'broken overview');
  assert.equal(await page.$('[data-action="start"]'), null, 'a broken runbook cannot start');
});

test('2. the step page: hostile step title, prose, hints and page data stay inert', TEST, async () => {
  await page.goto(`${base}/runbooks/hostile`);
  await Promise.all([page.waitForNavigation(), page.click('[data-action="start"]')]);
  const m = /\/runs\/([^/]+)\/steps\/([^/]+)$/.exec(new URL(page.url()).pathname);
  assert.ok(m, page.url());
  runId = m[1]!;
  await page.waitForSelector('.conn[data-conn="live"]', WAIT);
  await assertInert(page, 'step page');
  assert.match(await text(page, '#step-title'), /^Step <img src=x onerror=/);
  // the page data (hints with </script> in them) parsed back exactly
  const data = await page.$eval('#page-data', (el) => JSON.parse(el.textContent ?? '{}'));
  assert.match(data.blocks['print-hostile'].hint, /<\/script><script>window\.__pwned='hint-script'<\/script>/);
  assert.equal(srv.ctx.store.getRun(runId)!.vars.WHO, `x"><img src=x onerror=${PWN('var-default')}>`);
});

test('3. hostile escape sequences in output: no title change, no clipboard, nothing typed into the shell', TEST, async () => {
  const live = srv.ctx.runs.get(runId)!;
  // Every byte that reaches the shell: the executor's (write) and the browser's (input).
  const written: string[] = [];
  for (const method of ['write', 'input'] as const) {
    const original = live.session[method].bind(live.session);
    live.session[method] = (d: string | Buffer) => {
      written.push(Buffer.from(d).toString('latin1'));
      original(d);
    };
  }
  const titleBefore = await page.title();
  const sentBefore = await page.evaluate(() => (window as unknown as { __wsSent: number[][] }).__wsSent.length);

  await page.click('[data-block="print-hostile"] [data-action="run-block"]');
  await page.waitForSelector('[data-block="print-hostile"] .badge[data-status="passed"]', WAIT);
  await waitForTerminal(page, 'after-hostile');
  // xterm answers while it parses, so its answers are sent by the time its write callback runs;
  // a resize probe sent after them on the same socket has reached the server only once they have.
  await page.evaluate(() => new Promise<void>((r) => (window as unknown as { __stepwise: { term: { write(d: string, cb: () => void): void } } }).__stepwise.term.write('', r)));
  const size = { cols: live.session.cols, rows: live.session.rows };
  const probe = size.cols === 97 ? 98 : 97;
  const resize = (cols: number, rows: number) =>
    page.evaluate((m) => (window as unknown as { __ws: WebSocket }).__ws.send(JSON.stringify(m)), { type: 'resize', cols, rows });
  await resize(probe, size.rows);
  await until(() => live.session.cols === probe, WAIT.timeout, 'the probe resize reached the server');
  await resize(size.cols, size.rows);
  await until(() => live.session.cols === size.cols, WAIT.timeout, 'the size restored');

  assert.equal(await page.title(), titleBefore, 'OSC 0/2 do not change the document title');
  assert.deepEqual(await page.evaluate(() => (window as unknown as { __clip: string[] }).__clip), [], 'OSC 52 does not write the clipboard');
  const sent = await page.evaluate(() => (window as unknown as { __wsSent: number[][] }).__wsSent);
  const sentText = sent.slice(sentBefore).map((b) => String.fromCharCode(...b));
  assert.deepEqual(sentText, [], `the page typed into the shell by itself: ${JSON.stringify(sentText)}`);
  const replies = written.filter((w) => /\x1bP|\x1b\]|INJ-|PWNED/.test(w));
  assert.deepEqual(replies, [], `reply bytes reached the pty: ${JSON.stringify(replies)}`);

  // a check after the hostile output still runs normally (a reply typed into the shell would
  // leave junk on its command line and the session busy)
  await page.click('[data-block="hostile-check"] [data-action="run-block"]');
  await page.waitForSelector('[data-block="hostile-check"] .badge[data-status="failed"]', WAIT);

  const lines = (await terminalLines(page)).join('\n');
  assert.match(lines, /before-hostile/);
  assert.doesNotMatch(lines, /INJ-DCS-42|INJ-PASTE-42/, 'no injected text ran');
  const results = srv.ctx.store.blockResults(runId);
  const out = results.find((r) => r.id === 'print-hostile')!.output;
  assert.match(out, /after-hostile/);
  assert.doesNotMatch(out, /\x1b/, 'the captured output has no escape sequences');
  assert.ok(!results.some((r) => /INJ-DCS-42|INJ-PASTE-42/.test(r.output)));
  // xterm.js ships no OSC 52 handler; only the clipboard addon adds one, and the bundle has none
  const pkg = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../package.json'), 'utf8'));
  assert.ok(!Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).some((d) => /clipboard/i.test(d)));
  const bundle = await (await fetch(await page.$eval('script[src]', (el) => (el as HTMLScriptElement).src))).text();
  assert.doesNotMatch(bundle, /ClipboardAddon/);

  await assertInert(page, 'step page after hostile output');
  assert.match(await text(page, '[data-block="print-hostile"] pre.output'), /<script>window\.__pwned=output<\/script><img src=x onerror=/, 'output is text');
  assert.match(await text(page, '.verdict-hint'), /<\/script><script>window\.__pwned='check-hint'<\/script>/, 'the hint is text');
  assert.match(await text(page, '.verdict-reason'), /<img src=x onerror=/);

  // typing still works, and a bracketed paste cannot end itself early
  await page.click('[data-terminal] .xterm');
  await page.keyboard.type('echo typed-$((6*7))\n');
  await waitForTerminal(page, 'typed-42');
  const paste = await page.evaluate(() => {
    const w = window as unknown as { __stepwise: { term: { paste(t: string): void; modes: { bracketedPasteMode: boolean } } }; __wsSent: number[][] };
    const bracketed = w.__stepwise.term.modes.bracketedPasteMode;
    const n = w.__wsSent.length;
    // Unsanitised, this closes the bracket at once and the rest runs as if typed.
    w.__stepwise.term.paste('\x1b[201~echo PASTE-ESCAPED-$((40+2))\r');
    return { bracketed, sent: w.__wsSent.slice(n).map((b) => String.fromCharCode(...b)) };
  });
  assert.ok(paste.bracketed, 'bash turned bracketed paste on (else this checks nothing)');
  assert.equal(paste.sent.length, 1, 'the paste was sent');
  assert.equal(paste.sent[0], '\x1b[200~echo PASTE-ESCAPED-$((40+2))\r\x1b[201~', 'pasted text cannot end the bracketed paste early');
  // the pasted line waits at the prompt for Enter; Ctrl-C discards it
  await page.keyboard.down('Control');
  await page.keyboard.press('KeyC');
  await page.keyboard.up('Control');
  await page.keyboard.type('echo typed-again-$((6*7))\n');
  await waitForTerminal(page, 'typed-again-42');
  assert.ok(!(await terminalLines(page)).some((l) => l.includes('PASTE-ESCAPED-42')), 'the pasted line did not run as typed');
});

test('4. the report page shows the hostile output escaped', TEST, async () => {
  await page.goto(`${base}/runs/${runId}/report`);
  await assertInert(page, 'report');
  const body = await text(page, 'main');
  assert.match(body, /<script>window\.__pwned=output<\/script><img src=x onerror=/);
  assert.match(body, /after-hostile/);
  assert.doesNotMatch(body, /\x1b/);
  const html = await page.content();
  assert.match(html, /&lt;script&gt;window\.__pwned=output&lt;\/script&gt;&lt;img src=x onerror=/);
  // the recording plays in the player without touching the title or the clipboard
  await page.waitForFunction(() => !!(window as unknown as { __stepwise?: { player?: unknown } }).__stepwise?.player, WAIT);
  await assertInert(page, 'report with player');
  assert.deepEqual(await page.evaluate(() => (window as unknown as { __clip: string[] }).__clip), []);

  const md = await fetch(`${base}/api/runs/${runId}/report.md`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(md.status, 200);
  assert.match(md.headers.get('content-disposition') ?? '', /attachment/, 'exports download, they are not rendered by the browser');
});

noLeaks();
