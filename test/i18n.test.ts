// The interface's languages without a browser: the catalogs agree key for key and argument
// for argument, the language is chosen as the issue says (cookie/Accept-Language, LANG and
// --lang), numbers and durations follow the locale, the views render in the chosen language,
// and the CLI run prints Korean progress lines under LANG=ko_KR.UTF-8 (as a process).
// Run: node --import tsx --test test/i18n.test.ts
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IntlMessageFormat } from 'intl-messageformat';
import { CATALOGS, EN, LANGS, langFromEnv, negotiate, translator, type MessageKey } from '../common/i18n/index.ts';
import { formatDuration, progressText, resultMeta, statusLabel, verdictTitle } from '../common/format.ts';
import { Views } from '../server/http/render.ts';
import { formatTime } from '../server/http/pages.ts';
import { runStepwise } from './helpers/cli.ts';
import { startTestServer } from './helpers/server.ts';
import { TermClient } from './helpers/ws-client.ts';

/** Every argument a message uses, with its kind (plural, select, number, plain): from the parsed AST. */
function argumentsOf(message: string): string[] {
  const found = new Set<string>();
  const walk = (nodes: unknown[]): void => {
    for (const n of nodes as Array<{ type: number; value?: string; options?: Record<string, { value: unknown[] }> }>) {
      // intl-messageformat's TYPE: 1 argument, 2 number, 3 date, 4 time, 5 select, 6 plural.
      if (n.type >= 1 && n.type <= 6 && typeof n.value === 'string') found.add(`${n.value}:${n.type === 1 ? 'arg' : n.type === 5 ? 'select' : n.type === 6 ? 'plural' : 'other'}`);
      if (n.options) for (const o of Object.values(n.options)) walk(o.value);
    }
  };
  // Tags are text, as in the translator (`<runId>` in the CLI's help is not markup).
  walk(new IntlMessageFormat(message, 'en', undefined, { ignoreTag: true }).getAst());
  return [...found].sort();
}

test('every key is in every catalog, with the same ICU arguments, and parses', () => {
  const keys = Object.keys(CATALOGS.en).sort();
  for (const lang of LANGS) {
    assert.deepEqual(Object.keys(CATALOGS[lang]).sort(), keys, `${lang} has exactly the English keys`);
    for (const key of keys as MessageKey[]) {
      const msg = CATALOGS[lang][key];
      assert.ok(msg.length > 0 || CATALOGS.en[key].length === 0, `${lang} ${key} is not empty`);
      // A plain argument in English may be a plural in Korean only if it is the same name; the
      // contract is the names, so compare names, and the plural/select ones exactly.
      const names = (args: string[]) => [...new Set(args.map((a) => a.split(':')[0]))].sort();
      assert.deepEqual(names(argumentsOf(msg)), names(argumentsOf(CATALOGS.en[key])), `${lang} ${key}: same arguments as English`);
      const selects = (args: string[]) => args.filter((a) => a.endsWith(':select'));
      assert.deepEqual(selects(argumentsOf(msg)), selects(argumentsOf(CATALOGS.en[key])), `${lang} ${key}: same select arguments`);
    }
  }
});

test('the Korean catalog is Korean: most messages hold Hangul, none is left in English by mistake', () => {
  const hangul = /[\uac00-\ud7a3]/;
  // Messages that are the same in every language: names, and patterns of arguments only.
  const same = new Set<MessageKey>(['app.name', 'duration.ms', 'lang.en', 'lang.ko', 'title.page', 'meta.join', 'time.utc', 'step.title', 'step.errorWithCode', 'cli.usage', 'api.failure', 'report.total']);
  for (const key of Object.keys(CATALOGS.en) as MessageKey[]) {
    if (same.has(key)) continue;
    assert.match(CATALOGS.ko[key], hangul, `ko ${key} is translated: ${CATALOGS.ko[key]}`);
  }
});

test('a translator fills arguments and plurals per language', () => {
  const ko = translator('ko');
  assert.equal(EN.t('progress', { done: 1, total: 1 }), '1 of 1 step done');
  assert.equal(EN.t('progress', { done: 2, total: 5 }), '2 of 5 steps done');
  assert.equal(ko.t('progress', { done: 2, total: 5 }), '5단계 중 2단계 완료');
  assert.equal(EN.t('overview.counts', { commands: 1, checks: 2, both: 'yes' }), '1 command · 2 checks');
  assert.equal(EN.t('overview.counts', { commands: 0, checks: 1, both: 'no' }), '1 check');
  assert.equal(ko.t('overview.counts', { commands: 3, checks: 0, both: 'no' }), '명령 3개');
  assert.equal(EN.t('cli.runEnd', { id: 'r1', status: 'passed', passed: 2, failed: 0, skipped: 0, warnings: 1 }), 'run r1 passed: 2 passed, 0 failed, 0 skipped, 1 warning');
  assert.equal(EN.t('cli.runEnd', { id: 'r1', status: 'passed', passed: 2, failed: 0, skipped: 0, warnings: 0 }), 'run r1 passed: 2 passed, 0 failed, 0 skipped');
});

test('English output is what it was; Korean durations, statuses and verdicts are Korean', () => {
  const ko = translator('ko');
  assert.equal(formatDuration(85), '85 ms');
  assert.equal(formatDuration(1234), '1.2 s');
  assert.equal(formatDuration(12_345), '12 s');
  assert.equal(formatDuration(187_000), '3 min 07 s');
  assert.equal(formatDuration(187_000, ko), '3분 07초');
  assert.equal(formatDuration(1234, ko), '1.2초');
  assert.equal(resultMeta({ exitCode: 0, durationMs: 85, end: 'exited' }), 'exit 0 · 85 ms');
  assert.equal(resultMeta({ exitCode: null, durationMs: 5000, end: 'timeout' }), 'timed out · 5.0 s');
  assert.equal(resultMeta({ exitCode: null, durationMs: 0, end: 'skipped' }), 'not run');
  assert.equal(resultMeta({ exitCode: 0, durationMs: 85, end: 'exited' }, ko), '종료 코드 0 · 85ms');
  assert.equal(progressText(3, 5), '3 of 5 steps done');
  assert.equal(statusLabel('passed'), 'passed');
  assert.equal(statusLabel('passed', ko), '통과');
  assert.equal(statusLabel('failed', ko), '실패');
  assert.equal(statusLabel('no-such-status', ko), 'no-such-status', 'an unknown code is shown as it is');
  assert.equal(verdictTitle('passed', ko), '단계 통과');
  assert.equal(verdictTitle('failed'), 'Step failed');
  assert.equal(formatTime('2025-11-27T03:31:09.000Z'), '2025-11-27 03:31 UTC');
  assert.match(formatTime('2025-11-27T03:31:09.000Z', ko), /^2025\. 11\. 27\.? 03:31 UTC$/);
  assert.equal(translator('ko').number(1234567.5), '1,234,567.5');
});

test('Accept-Language: the highest q of our languages, ties in order; * and unknown ones passed over', () => {
  assert.equal(negotiate('ko'), 'ko');
  assert.equal(negotiate('ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7'), 'ko');
  assert.equal(negotiate('en-US,en;q=0.9,ko;q=0.8'), 'en');
  assert.equal(negotiate('fr-FR, ko;q=0.5, en;q=0.4'), 'ko');
  assert.equal(negotiate('en;q=0.2, ko;q=0.9'), 'ko');
  assert.equal(negotiate('ko;q=0, en'), 'en', 'q=0 means not acceptable');
  assert.equal(negotiate('*'), undefined);
  assert.equal(negotiate('fr, de'), undefined);
  assert.equal(negotiate(''), undefined);
  assert.equal(negotiate(undefined), undefined);
});

test('the CLI language: --lang, else LC_ALL, LC_MESSAGES, LANG in that order, else English', () => {
  assert.equal(langFromEnv(undefined, { LANG: 'ko_KR.UTF-8' }), 'ko');
  assert.equal(langFromEnv(undefined, { LANG: 'ko_KR.UTF-8', LC_ALL: 'C' }), 'en', 'LC_ALL wins, even as C');
  assert.equal(langFromEnv(undefined, { LANG: 'en_US.UTF-8', LC_MESSAGES: 'ko_KR.UTF-8' }), 'ko');
  assert.equal(langFromEnv(undefined, { LC_ALL: 'ko_KR.eucKR' }), 'ko');
  assert.equal(langFromEnv('en', { LC_ALL: 'ko_KR.UTF-8' }), 'en', '--lang wins');
  assert.equal(langFromEnv('ko', {}), 'ko');
  assert.equal(langFromEnv(undefined, {}), 'en');
  assert.equal(langFromEnv(undefined, { LANG: 'C.UTF-8' }), 'en');
  assert.equal(langFromEnv(undefined, { LANG: 'fr_FR.UTF-8' }), 'en');
});

test('views: {{t}} renders whole messages in the page language, escaped; the layout carries lang and the toggle', () => {
  const views = new Views();
  const links = [
    { lang: 'en', label: 'English', href: '/x?lang=en', current: false },
    { lang: 'ko', label: '한국어', href: '/x?lang=ko', current: true },
  ];
  const html = views.render('not-found', { title: '<b>t</b>', heading: 'H', message: 'M' }, { lang: 'ko', langLinks: links });
  assert.match(html, /<html lang="ko">/);
  assert.match(html, />본문으로 건너뛰기</);
  assert.match(html, />런북</, 'the header nav is Korean');
  assert.match(html, /<a href="\/x\?lang&#x3D;ko" lang="ko" hreflang="ko" data-lang="ko" aria-current="true">한국어<\/a>/);
  assert.match(html, />런북 목록으로</);
  assert.doesNotMatch(html, /<b>t<\/b>/, 'arguments stay escaped');
  const en = views.render('not-found', { title: 'T', heading: 'H', message: 'M' });
  assert.match(en, /<html lang="en">/);
  assert.match(en, />Skip to content</);
});

test('tlink and tlinks: a whole message with its link arguments, everything escaped', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-i18n-views-'));
  try {
    fs.writeFileSync(path.join(dir, 'x.hbs'), '{{tlink "step.resumedNoteNoStep" parent=p linkArg="parent" href=h}}|{{tlinks "report.resumedBy" runs=runs dataAttr="child-run"}}');
    const views = new Views(undefined, dir);
    const data = { p: '<b>r1</b>', h: '/runs/"x', runs: [{ id: 'r2', href: '/a' }, { id: '<i>r3</i>', href: '/b' }, { id: 'r4', href: '/c' }] };
    const en = views.render('x', data);
    assert.equal(
      en,
      'This run resumes run <a href="/runs/&quot;x"><code>&lt;b&gt;r1&lt;/b&gt;</code></a>: the steps before it were done there, with the same inputs; its directory and exports are restored.' +
        '|This run was resumed by <a href="/a" data-child-run="r2"><code>r2</code></a>, <a href="/b" data-child-run="&lt;i&gt;r3&lt;/i&gt;"><code>&lt;i&gt;r3&lt;/i&gt;</code></a>, and <a href="/c" data-child-run="r4"><code>r4</code></a>.',
    );
    const ko = views.render('x', data, { lang: 'ko' });
    assert.match(ko, /^이 실행은 실행 <a href="\/runs\/&quot;x"><code>&lt;b&gt;r1&lt;\/b&gt;<\/code><\/a>을\(를\) 이어 갑니다/);
    assert.match(ko, /\|이 실행은 <a href="\/a" data-child-run="r2"><code>r2<\/code><\/a>, <a href="\/b"[^>]*><code>&lt;i&gt;r3&lt;\/i&gt;<\/code><\/a> 및 <a href="\/c" data-child-run="r4"><code>r4<\/code><\/a>이\(가\) 이어 갔습니다\.$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI under LANG=ko_KR.UTF-8 prints Korean progress lines; under C it stays English', () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-i18n-cli-'));
  try {
    const step = ['run', 'getting-started', '--step', 'variables-come-from-the-front-matter', '--data', data];
    const ko = runStepwise(step, { LANG: 'ko_KR.UTF-8', LC_ALL: '', LC_MESSAGES: '' });
    assert.equal(ko.code, 0, ko.stdout + ko.stderr);
    assert.match(ko.stdout, /^실행 r\S+: getting-started, 대상 local$/m);
    assert.match(ko.stdout, /^\[1\/1\] variables-come-from-the-front-matter: 통과 \(\d+\.\d초\)$/m);
    assert.match(ko.stdout, /^실행 r\S+ 종료됨: 통과 1, 실패 0, 건너뜀 0$/m, 'one step of five: the run ended, not passed');
    assert.match(ko.stdout, /^감사 체인 헤드 [0-9a-f]{64} /m);

    const en = runStepwise(step, { LANG: 'C.UTF-8', LC_ALL: '', LC_MESSAGES: '' });
    assert.equal(en.code, 0, en.stdout + en.stderr);
    assert.match(en.stdout, /^run r\S+ getting-started on local$/m);
    assert.match(en.stdout, /^\[1\/1\] variables-come-from-the-front-matter: passed \(\d+\.\ds\)$/m);
    assert.match(en.stdout, /^run r\S+ ended: 1 passed, 0 failed, 0 skipped$/m);

    // list and validate's summary follow the locale too; the diagnostics' form does not change.
    const list = runStepwise(['list'], { LANG: 'ko_KR.UTF-8', LC_ALL: '', LC_MESSAGES: '' });
    assert.match(list.stdout, /^getting-started +ok +0 Getting started with Stepwise \(5단계\) \[ko\]$/m);
    const validate = runStepwise(['validate'], { LANG: 'ko_KR.UTF-8', LC_ALL: '', LC_MESSAGES: '' });
    assert.equal(validate.code, 0, validate.stdout + validate.stderr);
    assert.match(validate.stdout, /에서 런북 \d+개, 번역 \d+개를 검사했습니다: 오류 0개, 경고 0개$/m);

    // --lang ko reads the Korean translation and speaks Korean whatever LANG says.
    const flag = runStepwise([...step, '--lang', 'ko'], { LANG: 'en_US.UTF-8', LC_ALL: '', LC_MESSAGES: '' });
    assert.equal(flag.code, 0, flag.stdout + flag.stderr);
    assert.match(flag.stdout, /: 통과 \(/);
  } finally {
    fs.rmSync(data, { recursive: true, force: true });
  }
});

test('the CLI help and a usage error of another command are Korean under LANG=ko_KR.UTF-8, English under C', () => {
  const ko = { LANG: 'ko_KR.UTF-8', LC_ALL: '', LC_MESSAGES: '' };
  const c = { LANG: 'C.UTF-8', LC_ALL: '', LC_MESSAGES: '' };
  const helpKo = runStepwise(['--help'], ko);
  assert.equal(helpKo.code, 0, helpKo.stderr);
  assert.match(helpKo.stdout, /^사용법: stepwise <command> \[options\]$/m);
  assert.match(helpKo.stdout, /^환경 변수: STEPWISE_TOKEN/m);
  const helpC = runStepwise(['--help'], c);
  assert.equal(helpC.stdout, CATALOGS.en['cli.main.usage'] + '\n', 'the English help is the catalog text, unchanged');
  assert.match(helpC.stdout, /^usage: stepwise <command> \[options\]$/m);
  // --lang picks the language of the help whatever the locale says.
  assert.match(runStepwise(['--help', '--lang', 'ko'], c).stdout, /^사용법: /);

  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-i18n-usage-'));
  try {
    const reportKo = runStepwise(['report', '--data', data], ko);
    assert.equal(reportKo.code, 2);
    assert.equal(reportKo.stdout, 'stepwise report: 실행 id를 정확히 하나 지정하세요 (`stepwise runs` 참고)\n');
    const reportC = runStepwise(['report', '--data', data], c);
    assert.equal(reportC.code, 2);
    assert.equal(reportC.stdout, 'stepwise report: name exactly one run id (see `stepwise runs`)\n');
    // audit and approve: their usage errors too.
    assert.equal(runStepwise(['audit', '--data', data], ko).stdout, '사용법: stepwise audit verify [runId...|--all] [--data DIR]\n');
    assert.equal(runStepwise(['audit', '--data', data], c).stdout, 'usage: stepwise audit verify [runId...|--all] [--data DIR]\n');
    const approveKo = runStepwise(['approve', 'r1', '--data', data], { ...ko, STEPWISE_TOKEN: '' });
    assert.equal(approveKo.code, 2);
    assert.match(approveKo.stdout, /^stepwise approve: API 토큰을 STEPWISE_TOKEN으로 주세요/);
    const unknownKo = runStepwise(['bogus'], ko);
    assert.equal(unknownKo.code, 2);
    assert.match(unknownKo.stdout, /^stepwise: 알 수 없는 명령 "bogus"\n사용법: /);
    assert.match(runStepwise(['bogus'], c).stdout, /^stepwise: unknown command "bogus"\nusage: /);
  } finally {
    fs.rmSync(data, { recursive: true, force: true });
  }
});

test('API failures: the code and the JSON stay the same, the message is in the reader\'s language', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-i18n-api-'));
  const srv = await startTestServer(dir);
  try {
    const en = await srv.api('POST', '/api/runs', { runbook: 'no-such-runbook' });
    const ko = await srv.api('POST', '/api/runs', { runbook: 'no-such-runbook' }, { 'accept-language': 'ko-KR,ko;q=0.9' });
    const cookie = await srv.api('POST', '/api/runs', { runbook: 'no-such-runbook' }, { 'accept-language': 'en', cookie: 'stepwise_lang=ko' });
    assert.equal(en.status, ko.status);
    assert.equal(ko.json.error.code, en.json.error.code, 'the code is the contract');
    assert.deepEqual(Object.keys(ko.json.error).sort(), Object.keys(en.json.error).sort());
    assert.doesNotMatch(en.json.error.message, /[\uac00-\ud7a3]/, 'English by default');
    assert.equal(ko.json.error.message, `${CATALOGS.ko[`code.${en.json.error.code}` as MessageKey]}: ${en.json.error.message}`);
    assert.equal(cookie.json.error.message, ko.json.error.message, 'the cookie wins over Accept-Language');
  } finally {
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a websocket error reaches the browser in the language of the request that opened it; the code stays', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-i18n-ws-'));
  const srv = await startTestServer(dir);
  const clients: TermClient[] = [];
  try {
    const run = await srv.api('POST', '/api/runs', { runbook: null });
    assert.equal(run.status, 201, JSON.stringify(run.json));
    const wsUrl = srv.base.replace(/^http/, 'ws') + (run.json as { terminal: string }).terminal;
    const auth = { authorization: `Bearer ${srv.token}` };
    const errorOf = async (headers: Record<string, string>) => {
      const c = await TermClient.connect(wsUrl, { ...auth, ...headers });
      clients.push(c);
      await c.waitEvent('hello');
      c.ws.send('{not json');
      const e = await c.waitEvent('error');
      assert.ok(e.type === 'error');
      return e;
    };
    const en = await errorOf({});
    const ko = await errorOf({ 'accept-language': 'ko-KR,ko;q=0.9' });
    assert.equal(en.code, 'BAD_REQUEST');
    assert.equal(ko.code, en.code, 'the code is the contract');
    assert.doesNotMatch(en.message, /[\uac00-\ud7a3]/, 'English by default');
    assert.equal(ko.message, `${CATALOGS.ko['code.BAD_REQUEST']}: ${en.message}`);
    for (const c of clients) c.close();
    assert.equal((await srv.api('DELETE', `/api/runs/${(run.json as { id: string }).id}`)).status < 300, true, 'the run ends');
  } finally {
    for (const c of clients) if (!c.closed) c.close();
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the sign-in page speaks the reader\'s language (it comes before the pages\' language step)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-i18n-login-'));
  const srv = await startTestServer(dir);
  try {
    const ko = await fetch(`${srv.base}/`, { headers: { 'accept-language': 'ko-KR,ko;q=0.9' }, redirect: 'manual' });
    const koText = await ko.text();
    assert.equal(ko.status, 401);
    assert.match(koText, /<html lang="ko">/);
    assert.ok(koText.includes(CATALOGS.ko['login.help'].slice(0, 20)), koText);
    assert.ok(koText.includes(CATALOGS.ko['login.signIn']));
    const en = await (await fetch(`${srv.base}/`, { redirect: 'manual' })).text();
    assert.ok(en.includes('This server needs a token'), 'English by default');
  } finally {
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

noLeaks();
