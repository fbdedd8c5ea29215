// Translations: NAME.<lang>.md checked against NAME.md (server/runbook/translation.ts), the
// catalog pairing, `stepwise validate`, and every shipped translation against its source.
// Run: node --import tsx --test test/translation.test.ts
// Goldens: test/fixtures/translations/cases/<case>.ko.md is a translation of ../book.md; its
// expected `file:line CODE` lines are in <case>.expected.txt (REGEN=1 rewrites them: review the diff).

import { noLeaks } from './helpers/leaks.ts';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CODES, formatDiagnostic, isApiCode, type Code } from '../server/errors.ts';
import { loadCatalog } from '../server/runbook/catalog.ts';
import { parseRunbook } from '../server/runbook/parse.ts';
import { checkTranslation, translationName } from '../server/runbook/translation.ts';
import { validateCommand } from '../server/cli/validate.ts';
import { listCommand } from '../server/cli/list.ts';
import { RunStore } from '../server/record/store.ts';
import { runStepwise } from './helpers/cli.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = join(root, 'test/fixtures/translations');
const CASES = join(FIXTURES, 'cases');
const SOURCE = readFileSync(join(FIXTURES, 'book.md'), 'utf8');
const GOOD = readFileSync(join(FIXTURES, 'good.ko.md'), 'utf8');

const tmp = mkdtempSync(join(tmpdir(), 'stepwise-translation-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
/** A fresh catalog folder holding the given files. */
function folder(files: Record<string, string>): string {
  const dir = join(tmp, String(++dirs));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const TRANSLATION_CODES = (Object.keys(CODES) as Code[]).filter((c) => !isApiCode(c) && c.startsWith('TRANSLATION_'));

describe('golden translation checks', () => {
  const cases = readdirSync(CASES).filter((f) => f.endsWith('.ko.md')).sort();
  const seen = new Set<string>();

  it('has a case for each kind of drift', () => {
    assert.ok(cases.length >= 12, `cases: ${cases.length}`);
  });

  it('the good translation has no diagnostics and is runnable', () => {
    const cat = loadCatalog(folder({ 'book.md': SOURCE, 'book.ko.md': GOOD }));
    assert.deepEqual(cat.entries.map((e) => e.id), ['bridge'], 'the translation is not a runbook of its own');
    const [entry] = cat.entries;
    assert.deepEqual(entry!.diagnostics, []);
    assert.equal(entry!.translations.length, 1);
    const t = entry!.translations[0]!;
    assert.deepEqual(t.diagnostics.map(formatDiagnostic), []);
    assert.equal(t.ok, true);
    assert.equal(t.lang, 'ko');
    assert.equal(t.sourceId, 'bridge');
    assert.equal(t.runbook!.id, 'bridge', 'a translation takes its source id');
    assert.equal(t.runbook!.lang, 'ko');
    assert.deepEqual(t.runbook!.steps.map((s) => [s.id, s.title]), [
      ['install-the-tools', '도구 설치'],
      ['create-the-bridge', '브리지 생성'],
      ['clean-up', '정리'],
    ]);
    assert.notEqual(t.runbook!.contentHash, entry!.runbook!.contentHash);
  });

  for (const name of cases) {
    const base = name.replace(/\.ko\.md$/, '');
    it(`reports ${name} as in ${base}.expected.txt`, () => {
      const text = readFileSync(join(CASES, name), 'utf8');
      const cat = loadCatalog(folder({ [`${base}.md`]: SOURCE, [name]: text }));
      assert.equal(cat.entries.length, 1);
      assert.deepEqual(cat.entries[0]!.diagnostics, [], 'the source stays clean');
      const [t] = cat.translations;
      const actual = t!.diagnostics.map((d) => `${d.file}:${d.line} ${d.code}\n`).join('');
      const goldenFile = join(CASES, `${base}.expected.txt`);
      if (process.env.REGEN) writeFileSync(goldenFile, actual);
      assert.equal(actual, readFileSync(goldenFile, 'utf8'));
      assert.notEqual(actual, '', 'a case must produce diagnostics');
      const lines = text.split('\n').length;
      for (const d of t!.diagnostics) {
        assert.ok(d.line >= 1 && d.line <= lines, `line ${d.line} inside the file`);
        assert.ok(d.message.length > 0);
        seen.add(d.code);
      }
      // An error refuses the translation; a warning alone does not.
      const errors = t!.diagnostics.some((d) => d.severity === 'error');
      assert.equal(t!.ok, !errors);
    });
  }

  it('the cases cover every translation code but TRANSLATION_NO_SOURCE', () => {
    const missing = TRANSLATION_CODES.filter((c) => c !== 'TRANSLATION_NO_SOURCE' && !seen.has(c));
    assert.deepEqual(missing, []);
  });
});

describe('translation files', () => {
  it('are named NAME.<lang>.md', () => {
    assert.deepEqual(translationName('guide/kvm-2.2-bridge-network.ko.md'), { base: 'guide/kvm-2.2-bridge-network.md', lang: 'ko' });
    assert.deepEqual(translationName('a.pt-BR.md'), { base: 'a.md', lang: 'pt-BR' });
    assert.equal(translationName('guide/kvm-2.2-bridge-network.md'), undefined);
    assert.equal(translationName('kvm-3.1-rhel6-packages.md'), undefined);
    assert.equal(translationName('.ko.md'), undefined);
  });

  it('a translation without its source is reported, never listed as a runbook', () => {
    const dir = folder({ 'other.md': SOURCE, 'book.ko.md': GOOD });
    const cat = loadCatalog(dir);
    assert.deepEqual(cat.entries.map((e) => e.file), ['other.md']);
    assert.deepEqual(cat.entries[0]!.translations, []);
    assert.deepEqual(cat.translations.map((t) => [t.file, t.ok, t.diagnostics.map((d) => `${d.line} ${d.code}`)]), [['book.ko.md', false, ['1 TRANSLATION_NO_SOURCE']]]);
  });

  it('a translation beside a broken source is not runnable', () => {
    const broken = SOURCE.replace('```sh {id=install timeout=300}', '```sh {id=install timeout=-1}');
    const cat = loadCatalog(folder({ 'book.md': broken, 'book.ko.md': GOOD }));
    assert.equal(cat.entries[0]!.ok, false);
    assert.equal(cat.entries[0]!.translations[0]!.ok, false);
  });

  it('a translation of a translation is refused, and of a source already in that language', () => {
    const ko = SOURCE.replace('id: bridge\n', 'id: bridge\nlang: ko\n');
    const d = checkTranslation(parseRunbook(ko, 'book.md').runbook!, parseRunbook(GOOD, 'book.ko.md', { id: 'bridge' }).runbook!, 'ko');
    assert.deepEqual(d.map((x) => `${x.line} ${x.code}`), ['1 TRANSLATION_LANG']);
  });

  it('the source may declare lang: en', () => {
    const en = SOURCE.replace('id: bridge\n', 'id: bridge\nlang: en\n');
    const cat = loadCatalog(folder({ 'book.md': en, 'book.ko.md': GOOD }));
    assert.deepEqual(cat.entries[0]!.diagnostics, []);
    assert.equal(cat.entries[0]!.runbook!.lang, 'en');
    assert.deepEqual(cat.translations[0]!.diagnostics, []);
  });

  it('lang must be a language code', () => {
    const r = parseRunbook('---\nlang: Korean language\n---\n# T\n', 't.md');
    assert.deepEqual(r.diagnostics.map((d) => `${d.line} ${d.code}`), ['2 FRONT_MATTER_FIELD', '1 NO_STEPS'].sort());
  });

  it('a heading ending in {#id} names its step', () => {
    const r = parseRunbook('# T\n\n## 첫 단계 {#first}\n\n```sh {verify}\ntrue\n```\n\n## Plain\n', 't.md');
    assert.deepEqual(r.runbook!.steps.map((s) => [s.id, s.title]), [['first', '첫 단계'], ['plain', 'Plain']]);
    assert.deepEqual(Object.keys(r.runbook!.blocks), ['first-1']);
  });

  it('stepwise validate prints translation diagnostics after their source and fails on them', () => {
    const changed = readFileSync(join(CASES, 'changed-command.ko.md'), 'utf8');
    const dir = folder({ 'book.md': SOURCE, 'book.ko.md': changed, 'orphan.ko.md': GOOD });
    const lines: string[] = [];
    const code = validateCommand([dir], (s) => lines.push(s));
    assert.equal(code, 1);
    assert.deepEqual(lines.slice(0, -1).map((l) => l.split(' ').slice(0, 2).join(' ')), [
      'book.ko.md:37 TRANSLATION_BLOCK_DIFFERS',
      'orphan.ko.md:1 TRANSLATION_NO_SOURCE',
    ]);
    assert.match(lines.at(-1)!, /^1 runbooks and 2 translations checked in .*: 2 errors, 0 warnings$/);
    const ok: string[] = [];
    assert.equal(validateCommand([folder({ 'book.md': SOURCE, 'book.ko.md': GOOD })], (s) => ok.push(s)), 0);
    assert.match(ok.join('\n'), /^1 runbooks and 1 translations checked in .*: 0 errors, 0 warnings$/);
  });
});

describe('stepwise list', () => {
  it('lists a runbook once, with the languages of its translations; a drifted one is marked', () => {
    const changed = readFileSync(join(CASES, 'changed-command.ko.md'), 'utf8').replace('lang: ko', 'lang: ja');
    const dir = folder({ 'book.md': SOURCE, 'book.ko.md': GOOD, 'book.ja.md': changed });
    const lines: string[] = [];
    listCommand(dir, (l) => lines.push(l));
    assert.deepEqual(lines, ['bridge  ok     2.2 Create a bridge (3 steps) [ja: BROKEN, ko]']);
  });
});

describe('shipped translations', () => {
  const cat = loadCatalog(join(root, 'runbooks'));

  it('every shipped translation validates against its source, with no diagnostic at all', () => {
    const diags = cat.translations.flatMap((t) => t.diagnostics.map(formatDiagnostic));
    assert.deepEqual(diags, []);
    for (const t of cat.translations) assert.ok(t.ok && t.sourceId, `${t.file} is runnable`);
  });

  it('a changed byte in any shipped translation\'s command is caught at its line', () => {
    let checked = 0;
    for (const t of cat.translations) {
      const source = cat.get(t.sourceId!)!.runbook!;
      const text = readFileSync(join(root, 'runbooks', t.file), 'utf8');
      const exec = Object.values(t.runbook!.blocks).filter((b) => b.kind !== 'display');
      // The first, a middle and the last executable block of each translation.
      for (const b of new Set([exec[0]!, exec[exec.length >> 1]!, exec[exec.length - 1]!])) {
        const last = b.line + b.content.split('\n').length; // 1-based line of the block's last content line
        const lines = text.split('\n');
        lines[last - 1] += ' ';
        const changed = parseRunbook(lines.join('\n'), t.file, { id: source.id }).runbook!;
        const d = checkTranslation(source, changed, t.lang).map((x) => `${x.line} ${x.code}`);
        assert.deepEqual(d, [`${last} TRANSLATION_BLOCK_DIFFERS`], `${t.file} block ${b.id}`);
        checked++;
      }
    }
    assert.ok(checked >= 40, `checked ${checked} blocks`);
  });

  it('the tutorial and every guide runbook have a Korean translation that names the 2011 guide in Korean', () => {
    const wanted = cat.entries.filter((e) => e.id === 'getting-started' || e.file.startsWith('guide/'));
    assert.equal(wanted.length, 16);
    for (const e of wanted) {
      const ko = e.translations.find((t) => t.lang === 'ko');
      assert.ok(ko, `${e.file} has a .ko.md`);
      assert.equal(ko.file, e.file.replace(/\.md$/, '.ko.md'));
      // Translated, not copied: the title and every step title are Korean.
      const hangul = /[\uAC00-\uD7A3]/;
      assert.match(ko.runbook!.title, hangul, `${ko.file} title`);
      for (const s of ko.runbook!.steps) assert.match(s.title, hangul, `${ko.file} step ${s.id}`);
      if (e.file.startsWith('guide/')) assert.match(ko.runbook!.intro, /서진우/, `${ko.file} names the guide's author`);
    }
  });
});

describe('runs record the language read', () => {
  // The runbook is the good fixture pair with trivial commands, so the run is quick and local.
  const source = SOURCE.replace('sudo apt-get install -y bridge-utils', 'true').replace('sudo ip link add name "$BRIDGE" type bridge', 'true')
    .replace('command -v brctl', 'true').replace('ip link show "$BRIDGE"', 'echo "state UP"').replace('file=/etc/network/interfaces.d/br0', 'file=/tmp/stepwise-translation-test/br0');
  const ko = GOOD.replace('sudo apt-get install -y bridge-utils', 'true').replace('sudo ip link add name "$BRIDGE" type bridge', 'true')
    .replace('command -v brctl', 'true').replace('ip link show "$BRIDGE"', 'echo "state UP"').replace('file=/etc/network/interfaces.d/br0', 'file=/tmp/stepwise-translation-test/br0');
  const dir = folder({ 'book.md': source, 'book.ko.md': ko, 'drifted.md': source.replace('id: bridge', 'id: drifted'), 'drifted.ko.md': ko.replace('echo "state UP"', 'echo "state DOWN"') });
  const data = mkdtempSync(join(tmp, 'data-'));
  after(() => rmSync('/tmp/stepwise-translation-test', { recursive: true, force: true }));
  const run = (...args: string[]) => runStepwise(['run', ...args, '--runbooks', dir, '--yes'], { STEPWISE_DATA: data });
  // The run id, whatever language the CLI speaks (--lang may localize its lines too).
  const runId = (out: string) => /\b(r\d{14}-[a-z2-7]{6})\b/.exec(out)?.[1];

  it('--lang ko pins the translation and the source; the default is the source language', () => {
    const cat = loadCatalog(dir);
    const entry = cat.get('bridge')!;
    assert.deepEqual(cat.translations.filter((t) => !t.ok).map((t) => t.file), ['drifted.ko.md']);
    const ko = run('bridge', '--lang', 'ko');
    assert.equal(ko.code, 0, ko.stdout + ko.stderr);
    const en = run('bridge');
    assert.equal(en.code, 0, en.stdout + en.stderr);
    const store = RunStore.open(data);
    try {
      const kr = store.getRun(runId(ko.stdout)!)!;
      assert.equal(kr.contentHash, entry.runbook!.contentHash, 'the source is what ran');
      assert.equal(kr.options.lang, 'ko');
      assert.deepEqual(kr.options.translation, { file: 'book.ko.md', contentHash: entry.translations[0]!.runbook!.contentHash });
      const started = store.auditEvents(kr.id).find((e) => e.type === 'run-started')!;
      assert.equal(started.data.contentHash, entry.runbook!.contentHash);
      assert.equal(started.data.lang, 'ko');
      assert.deepEqual(started.data.translation, kr.options.translation);
      const er = store.getRun(runId(en.stdout)!)!;
      assert.equal(er.options.lang, 'en');
      assert.equal(er.options.translation, undefined);
    } finally {
      store.close();
    }
  });

  it('a resumed run goes on in the language its parent was read in', () => {
    const flaky = '---\nid: flaky\n---\n# Flaky\n\n## Needs a flag\n\n```sh {verify}\ntest -f /tmp/stepwise-translation-test/flag\n```\n';
    const flakyKo = '---\nlang: ko\n---\n# 불안정\n\n## 깃발이 필요함 {#needs-a-flag}\n\n```sh {verify}\ntest -f /tmp/stepwise-translation-test/flag\n```\n';
    const d = folder({ 'flaky.md': flaky, 'flaky.ko.md': flakyKo });
    rmSync('/tmp/stepwise-translation-test/flag', { force: true });
    const first = runStepwise(['run', 'flaky', '--lang', 'ko', '--runbooks', d], { STEPWISE_DATA: data });
    assert.equal(first.code, 1, first.stdout + first.stderr);
    mkdirSync('/tmp/stepwise-translation-test', { recursive: true });
    writeFileSync('/tmp/stepwise-translation-test/flag', '');
    const resumed = runStepwise(['run', 'flaky', '--resume', runId(first.stdout)!, '--runbooks', d], { STEPWISE_DATA: data });
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    const store = RunStore.open(data);
    try {
      const r = store.getRun(runId(resumed.stdout)!)!;
      assert.equal(r.options.lang, 'ko');
      assert.equal((r.options.translation as { file: string }).file, 'flaky.ko.md');
    } finally {
      store.close();
    }
  });

  it('without a translation in the language asked for, the run reads the source and records its language', () => {
    const none = run('bridge', '--lang', 'ja');
    assert.equal(none.code, 0, none.stdout + none.stderr);
    const store = RunStore.open(data);
    try {
      const r = store.getRun(runId(none.stdout)!)!;
      assert.equal(r.options.lang, 'en');
      assert.equal(r.options.translation, undefined);
    } finally {
      store.close();
    }
  });

  it('a translation whose commands differ is refused', () => {
    const drifted = run('drifted', '--lang', 'ko');
    assert.notEqual(drifted.code, 0);
    assert.match(drifted.stdout + drifted.stderr, /drifted\.ko\.md:\d+ TRANSLATION_BLOCK_DIFFERS/);
  });
});

noLeaks();
