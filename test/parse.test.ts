// Runbook parser, attributes, slugs and catalog.
// Run: node --import tsx --test test/parse.test.ts
// Goldens live in test/fixtures/runbooks; regenerate with test/fixtures/regen.ts and review the diff.

import { noLeaks } from './helpers/leaks.ts';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CODES, formatDiagnostic, isApiCode, type Code } from '../server/errors.ts';
import { parseFenceInfo } from '../server/runbook/attributes.ts';
import { compareSection, loadCatalog } from '../server/runbook/catalog.ts';
import { assignedNames, parseRunbook } from '../server/runbook/parse.ts';
import { slugify, stepSlug } from '../server/runbook/slug.ts';
import { BROKEN_DIR, brokenGolden, GOOD_DIR, mdFiles } from './fixtures/regen.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The runbook diagnostic codes the parser and catalog produce: every code without an HTTP status. */
const RUNBOOK_CODES = (Object.keys(CODES) as Code[]).filter((c) => !isApiCode(c));

const codes = (src: string) => parseRunbook(src, 't.md').diagnostics.map((d) => `${d.line} ${d.code}`);

describe('golden fixtures', () => {
  const good = mdFiles(GOOD_DIR);
  const broken = mdFiles(BROKEN_DIR);

  it('has enough fixtures', () => {
    assert.ok(good.length >= 6, `good fixtures: ${good.length}`);
    assert.ok(broken.length >= 8, `broken fixtures: ${broken.length}`);
  });

  for (const name of good) {
    it(`parses ${name} as in ${name.replace(/\.md$/, '.expected.json')}`, () => {
      const result = parseRunbook(readFileSync(join(GOOD_DIR, name), 'utf8'), name);
      const roundTrip = JSON.parse(JSON.stringify(result));
      // No undefined-valued keys: the model is exactly what JSON keeps.
      assert.deepStrictEqual(roundTrip, result);
      const expected = JSON.parse(readFileSync(join(GOOD_DIR, name.replace(/\.md$/, '.expected.json')), 'utf8'));
      assert.deepStrictEqual(roundTrip, expected);
      assert.deepStrictEqual(result.diagnostics.map(formatDiagnostic), [], 'good fixtures have no diagnostics');
    });
  }

  const seen = new Set<string>();
  for (const name of broken) {
    it(`reports broken/${name} as in ${name.replace(/\.md$/, '.expected.txt')}`, () => {
      const actual = brokenGolden(BROKEN_DIR, name);
      const expected = readFileSync(join(BROKEN_DIR, name.replace(/\.md$/, '.expected.txt')), 'utf8');
      assert.deepStrictEqual(actual.split('\n'), expected.split('\n'));
      assert.notEqual(actual, '', 'a broken fixture must produce diagnostics');
      const source = readFileSync(join(BROKEN_DIR, name), 'utf8');
      const result = parseRunbook(source, name);
      assert.ok(result.runbook, 'a model is still built');
      const lineCount = source.split('\n').length;
      for (const d of result.diagnostics) {
        assert.ok(d.line >= 1 && d.line <= lineCount, `line ${d.line} inside the file`);
        assert.equal(d.severity, CODES[d.code].severity);
        assert.ok(d.message.length > 0);
        seen.add(d.code);
      }
    });
  }

  it('broken fixtures cover every parser diagnostic code', () => {
    const catalogOnly = new Set(['DUPLICATE_RUNBOOK_ID', 'UNKNOWN_REQUIRES', 'READ_FAILED', 'PARSE_FAILED']);
    // Translation codes need a source and a translation: test/translation.test.ts covers them.
    // Inventory codes belong to inventory files: test/ssh.test.ts covers them.
    const missing = RUNBOOK_CODES.filter((c) => !catalogOnly.has(c) && !c.startsWith('TRANSLATION_') && !c.startsWith('INVENTORY_') && !seen.has(c));
    assert.deepStrictEqual(missing, []);
  });
});

describe('parseFenceInfo', () => {
  it('parses a bare language', () => {
    assert.deepStrictEqual(parseFenceInfo('sh'), { lang: 'sh', attrs: {} });
    assert.deepStrictEqual(parseFenceInfo(''), { lang: '', attrs: {} });
    assert.deepStrictEqual(parseFenceInfo('  console  '), { lang: 'console', attrs: {} });
  });
  it('parses key=value groups', () => {
    assert.deepStrictEqual(parseFenceInfo('sh {id=install-bridge timeout=120}'), {
      lang: 'sh',
      attrs: { id: 'install-bridge', timeout: '120' },
    });
    assert.deepStrictEqual(parseFenceInfo('bash { name=setup interactive=false }'), {
      lang: 'bash',
      attrs: { name: 'setup', interactive: 'false' },
    });
    assert.deepStrictEqual(parseFenceInfo('sh{verify}'), { lang: 'sh', attrs: { verify: true } });
    assert.deepStrictEqual(parseFenceInfo('{id=notes}'), { lang: '', attrs: { id: 'notes' } });
    assert.deepStrictEqual(parseFenceInfo('sh {mode=0644 os=linux,darwin}').attrs, { mode: '0644', os: 'linux,darwin' });
  });
  it('unescapes only \\" and \\\\ in double-quoted values', () => {
    assert.deepStrictEqual(parseFenceInfo('sh {hint="Run \\"ip link\\" first" expect="^br0\\s" verify}').attrs, {
      hint: 'Run "ip link" first',
      expect: '^br0\\s',
      verify: true,
    });
    assert.deepStrictEqual(parseFenceInfo('sh {hint="a\\\\b" x="}{= "}').attrs, { hint: 'a\\b', x: '}{= ' });
    assert.deepStrictEqual(parseFenceInfo("sh {hint='it is \"quoted\"'}").attrs, { hint: 'it is "quoted"' });
  });
  it('allows ${VAR} in unquoted values', () => {
    assert.deepStrictEqual(parseFenceInfo('ini {file=${WORKDIR}/app-${NAME}.conf mode=600}').attrs, {
      file: '${WORKDIR}/app-${NAME}.conf',
      mode: '600',
    });
  });
  it('parses the JSON form with native types', () => {
    assert.deepStrictEqual(parseFenceInfo('sh {"id":"install-bridge","timeout":120,"verify":true,"os":["linux","darwin"]}'), {
      lang: 'sh',
      attrs: { id: 'install-bridge', timeout: 120, verify: true, os: 'linux,darwin' },
    });
    assert.deepStrictEqual(parseFenceInfo('sh { "id": "x" }').attrs, { id: 'x' });
  });
  it('keeps __proto__ as a plain key', () => {
    const a = parseFenceInfo('sh {__proto__=x}').attrs;
    assert.equal(Object.getPrototypeOf(a), Object.prototype);
    assert.deepStrictEqual(Object.keys(a), ['__proto__']);
    const j = parseFenceInfo('sh {"__proto__":"x"}').attrs;
    assert.deepStrictEqual(Object.keys(j), ['__proto__']);
  });
  it('rejects malformed groups', () => {
    for (const info of [
      'sh title="x"',
      'sh id=x',
      'sh {id=x',
      'sh {id="x}',
      "sh {id='x}",
      'sh {id=}',
      'sh {id=a"b}',
      'sh {=x}',
      'sh {id=x} trailing',
      'sh {id=x id=y}',
      'sh {"id":}',
      'sh {"id":null}',
      'sh {"id":{"a":1}}',
      'sh {{exec}}',
      'sh {file=${X}',
      'sh {id="a"b}',
    ]) {
      const r = parseFenceInfo(info);
      assert.equal(typeof r.error, 'string', `error expected for ${info}`);
      assert.deepStrictEqual(r.attrs, {});
      assert.equal(r.lang, 'sh');
    }
  });
});

describe('slug', () => {
  it('makes GitHub-like slugs', () => {
    assert.equal(slugify('Install the Bridge (br0)!'), 'install-the-bridge-br0');
    assert.equal(slugify('  Hello,   World  '), 'hello-world');
    assert.equal(slugify('a -- b'), 'a-b');
    assert.equal(slugify('snake_case stays'), 'snake_case-stays');
    assert.equal(slugify('2.2 Bridge 네트워크 환경 구성'), '22-bridge-네트워크-환경-구성');
    assert.equal(slugify('가상화 확장 기능 확인'), '가상화-확장-기능-확인');
    assert.equal(slugify('Straße — Café'), 'straße-café');
    assert.equal(slugify('`virsh edit` <vm>'), 'virsh-edit-vm');
  });
  it('is stable under Unicode normalisation', () => {
    assert.equal(slugify('Cafe\u0301'), slugify('Caf\u00e9'));
  });
  it('falls back to step-N', () => {
    assert.equal(slugify('🚀 !!! ✨'), '');
    assert.equal(stepSlug('🚀', 3), 'step-3');
    assert.equal(stepSlug('Real', 3), 'real');
  });
});

describe('parseRunbook', () => {
  it('chooses the id: front matter, then opts.id, then the basename', () => {
    assert.equal(parseRunbook('# T', 'dir/my-book.md').runbook?.id, 'my-book');
    assert.equal(parseRunbook('# T', 'dir\\win.MD').runbook?.id, 'win');
    assert.equal(parseRunbook('# T', 'a.md', { id: 'given' }).runbook?.id, 'given');
    assert.equal(parseRunbook('---\nid: fm\n---\n# T', 'a.md', { id: 'given' }).runbook?.id, 'fm');
  });

  it('hashes the source and keeps CRLF/BOM line numbers', () => {
    const lf = '---\ntitle: X\n---\n# H\n\n## Step one\n\n```sh\necho $NOPE\n```\n';
    const crlf = '\uFEFF' + lf.replace(/\n/g, '\r\n');
    const a = parseRunbook(lf, 'a.md');
    const b = parseRunbook(crlf, 'a.md');
    assert.equal(a.runbook?.contentHash, createHash('sha256').update(lf, 'utf8').digest('hex'));
    assert.notEqual(a.runbook?.contentHash, b.runbook?.contentHash);
    assert.deepStrictEqual({ ...a.runbook, contentHash: '' }, { ...b.runbook, contentHash: '' });
    assert.deepStrictEqual(a.diagnostics, b.diagnostics);
    assert.deepStrictEqual(codes(lf), ['6 STEP_WITHOUT_CHECK', '9 VAR_UNDECLARED']);
  });

  it('keeps section numbers as written and vars shorthand', () => {
    const r = parseRunbook('---\nsection: 2.10\nvars:\n  A: 1.50\n  B:\n  C: {default: 007}\n---\n# T\n', 'a.md');
    assert.equal(r.runbook?.section, '2.10');
    assert.deepStrictEqual(r.runbook?.vars.map((v) => [v.name, v.default, v.line]), [['A', '1.50', 4], ['B', '', 5], ['C', '007', 6]]);
  });

  it('checks var patterns anchored', () => {
    assert.deepStrictEqual(codes('---\nvars:\n  A: {default: xbr0, pattern: "br[0-9]"}\n---\n# T\n'), ['1 NO_STEPS', '3 VAR_DEFAULT_MISMATCH']);
    assert.deepStrictEqual(codes('---\nvars:\n  A: {default: br0, pattern: "br[0-9]|eth0"}\n---\n# T\n'), ['1 NO_STEPS']);
    assert.deepStrictEqual(codes('---\nvars:\n  A:\n    pattern: "br[0-9]"\n---\n# T\n'), ['1 NO_STEPS'], 'empty default is not checked');
  });

  it('points front matter errors at the YAML line', () => {
    assert.deepStrictEqual(codes('---\ntitle: T\n\nbogus: 1\n---\n## S\n'), ['4 FRONT_MATTER_FIELD']);
    assert.deepStrictEqual(codes('---\ntitle: T\nvars:\n  ok: 1\n  bad-name: 2\n---\n## S\n'), ['5 VAR_INVALID']);
    assert.deepStrictEqual(codes('---\n- a\n---\n# T\n## S\n'), ['2 FRONT_MATTER_FIELD']);
    assert.deepStrictEqual(codes('---\n---\n# T\n## S\n'), []);
  });

  it('derives block ids per step and intro', () => {
    const src = '# T\n\n```text\nintro\n```\n\n## Step A\n\n```console\nout\n```\n\n```sh\necho\n```\n\n```sh {verify}\ntrue\n```\n';
    const rb = parseRunbook(src, 'a.md').runbook!;
    assert.deepStrictEqual(Object.keys(rb.blocks), ['intro-1', 'step-a-1', 'step-a-2', 'step-a-3']);
    assert.deepStrictEqual(rb.steps[0]!.commands, ['step-a-2']);
    assert.deepStrictEqual(rb.steps[0]!.checks, ['step-a-3']);
    assert.equal(rb.blocks['intro-1']!.stepId, '');
    assert.equal(rb.blocks['step-a-2']!.line, 13);
    assert.equal(rb.blocks['step-a-2']!.content, 'echo');
  });

  it('types attributes', () => {
    const src = '# T\n## S\n```sh {timeout=1.5 exit=3 confirm=true interactive=false os=Linux requires=a,b hint="h" expect="x$"}\nx\n```\n```sh {verify=true}\ntrue\n```\n';
    const r = parseRunbook(src, 'a.md');
    assert.deepStrictEqual(r.diagnostics, []);
    const b = r.runbook!.blocks['s-1']!;
    assert.deepStrictEqual(
      { t: b.timeoutSec, e: b.exit, c: b.confirm, i: b.interactive, o: b.os, r: b.requires, h: b.hint, x: b.expect },
      { t: 1.5, e: 3, c: true, i: false, o: ['linux'], r: ['a', 'b'], h: 'h', x: 'x$' },
    );
    assert.deepStrictEqual(codes('# T\n## S\n```sh {interactive timeout=5}\nvi\n```\n```sh {verify}\ntrue\n```\n'), ['3 BAD_ATTRIBUTE']);
    assert.deepStrictEqual(codes('# T\n## S\n```sh {verify exit=1}\nfalse\n```\n'), ['3 BAD_ATTRIBUTE']);
    assert.deepStrictEqual(codes('# T\n## S\n```ini {file=/etc/${X}.conf}\nx\n```\n```sh {verify}\ntrue\n```\n'), ['3 VAR_UNDECLARED']);
    assert.deepStrictEqual(codes('---\nvars:\n  X: a\n---\n# T\n## S\n```ini {file=/etc/${X}.conf}\nx\n```\n```sh {verify}\ntrue\n```\n'), []);
    assert.deepStrictEqual(codes('# T\n## S\n```ini {file=/etc/$X.conf}\nx\n```\n```sh {verify}\ntrue\n```\n'), ['3 BAD_ATTRIBUTE']);
    assert.deepStrictEqual(codes('# T\n## S\n```sh {timeout=0}\nx\n```\n'), ['2 STEP_WITHOUT_CHECK', '3 BAD_ATTRIBUTE']);
    assert.deepStrictEqual(codes('# T\n## S\n```sh {exit=1.5}\nx\n```\n'), ['2 STEP_WITHOUT_CHECK', '3 BAD_ATTRIBUTE']);
    assert.deepStrictEqual(codes('# T\n## S\n```sh {id=a name=b}\nx\n```\n'), ['2 STEP_WITHOUT_CHECK', '3 BAD_ATTRIBUTE']);
    assert.deepStrictEqual(codes('# T\n## S\n```sh {file=/x mode=644}\nx\n```\n```sh {verify}\ntrue\n```\n'), []);
    assert.equal(parseRunbook('# T\n## S\n```sh {file=/x mode=644}\nx\n```\n', 'a.md').runbook!.blocks['s-1']!.mode, '0644');
  });

  it('finds undeclared variables but not assigned ones', () => {
    const src = '# T\n## S\n```sh\nexport A_B=1\nfor I in 1; do :; done\nread -r -p "Name: " WHO\necho $A_B $I $WHO $HOME $lower ${#LEN} \\$ESC $1 $?\n```\n```sh {verify}\ntrue\n```\n';
    assert.deepStrictEqual(codes(src), ['7 VAR_UNDECLARED']);
    assert.deepStrictEqual([...assignedNames('X=1 Y+=2 cmd\nlocal A B=2\ndeclare -a ARR\nread -a LIST -r V\nselect S in a; do :; done\narr[1]=x')].sort(),
      ['A', 'ARR', 'B', 'LIST', 'S', 'V', 'X', 'Y', 'arr'].sort());
  });
});

describe('shipped runbooks and docs', () => {
  it('runbooks/getting-started.md parses with zero diagnostics', () => {
    const r = parseRunbook(readFileSync(join(root, 'runbooks/getting-started.md'), 'utf8'), 'getting-started.md');
    assert.deepStrictEqual(r.diagnostics.map(formatDiagnostic), []);
    const rb = r.runbook!;
    assert.ok(rb.steps.length >= 4 && rb.steps.length <= 5);
    for (const s of rb.steps) assert.ok(s.checks.length > 0, `step ${s.id} has a check`);
    assert.ok(Object.values(rb.blocks).some((b) => b.kind === 'file'));
    assert.ok(Object.values(rb.blocks).some((b) => b.expect !== undefined));
  });
  it('docs/format.md lists every runbook diagnostic code', () => {
    const doc = readFileSync(join(root, 'docs/format.md'), 'utf8');
    const missing = RUNBOOK_CODES.filter((c) => !doc.includes(`\`${c}\``));
    assert.deepStrictEqual(missing, []);
  });
});

describe('loadCatalog', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stepwise-catalog-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (rel: string, text: string) => {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  const book = (fm: string, title = 'T') => `---\n${fm}\n---\n# ${title}\n\n## S\n\n\`\`\`sh\ntrue\n\`\`\`\n\n\`\`\`sh {verify}\ntrue\n\`\`\`\n`;

  write('a.md', book('section: 2.10\nrequires: [b]'));
  write('sub/b.md', book('section: 2.9'));
  write('sub/deeper/c.md', book('title: C\nrequires:\n  - a\n  - nope'));
  write('x/dup.md', book('summary: one'));
  write('y/dup.md', book('summary: two'));
  write('z.md', book('id: dup'));
  write('_draft.md', 'not a runbook');
  write('README.md', 'readme');
  write('.hidden/h.md', book(''));
  write('_private/p.md', book(''));
  write('notes.txt', 'ignored');
  write('broken.md', '# B\n```sh\necho outside\n```\n');
  symlinkSync(join(dir, 'does-not-exist.md'), join(dir, 'dangling.md'));
  symlinkSync(dir, join(dir, 'sub/loop'));

  it('loads, checks and sorts runbooks', () => {
    const cat = loadCatalog(dir);
    assert.equal(cat.dir, dir);
    assert.deepStrictEqual(
      cat.entries.map((e) => [e.file, e.id, e.ok]),
      [
        ['sub/b.md', 'b', true],
        ['a.md', 'a', true],
        ['broken.md', 'broken', false],
        ['sub/deeper/c.md', 'c', false],
        ['dangling.md', 'dangling', false],
        ['x/dup.md', 'dup', false],
        ['y/dup.md', 'dup', false],
        ['z.md', 'dup', false],
      ],
    );
    const line = (file: string) => cat.entries.find((e) => e.file === file)!.diagnostics.map((d) => `${d.file}:${d.line} ${d.code}`);
    assert.deepStrictEqual(line('sub/deeper/c.md'), ['sub/deeper/c.md:3 UNKNOWN_REQUIRES']);
    assert.deepStrictEqual(line('x/dup.md'), ['x/dup.md:1 DUPLICATE_RUNBOOK_ID']);
    assert.deepStrictEqual(line('z.md'), ['z.md:2 DUPLICATE_RUNBOOK_ID']);
    assert.deepStrictEqual(line('dangling.md'), ['dangling.md:1 READ_FAILED']);
    assert.deepStrictEqual(line('broken.md'), ['broken.md:1 NO_STEPS', 'broken.md:2 BLOCK_OUTSIDE_STEP']);
    assert.match(cat.entries.find((e) => e.file === 'x/dup.md')!.diagnostics[0]!.message, /y\/dup\.md, z\.md/);
    assert.equal(cat.get('a')?.runbook?.requires[0], 'b');
    assert.equal(cat.get('c')?.runbook?.title, 'C');
    assert.equal(cat.get('nope'), undefined);
    assert.equal(cat.get('dangling')?.runbook, undefined);
  });

  it('never throws on a missing folder', () => {
    const cat = loadCatalog(join(dir, 'missing'));
    assert.deepStrictEqual(cat.entries.map((e) => e.diagnostics.map((d) => d.code)), [['READ_FAILED']]);
  });

  it('loads the shipped runbooks folder', () => {
    const cat = loadCatalog(join(root, 'runbooks'));
    const gs = cat.get('getting-started');
    assert.ok(gs?.ok);
    assert.deepStrictEqual(gs.diagnostics, []);
  });

  it('compares sections numerically', () => {
    const sorted = ['10', '2.10', '2.9', '2', '2.a', '1.1.1', 'A', undefined, '2.2'].sort(compareSection);
    assert.deepStrictEqual(sorted, ['1.1.1', '2', '2.2', '2.9', '2.10', '2.a', '10', 'A', undefined]);
  });
});

noLeaks();
