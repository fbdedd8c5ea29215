// Property-based fuzzing (fast-check, bounded runs) of the untrusted-input parsers: the
// runbook parser, fence info strings and websocket client messages. Plus very large runbooks:
// what they parse to is asserted, their times are printed (never pass/fail); only the test
// timeout catches a parse that never ends.
import { noLeaks } from './helpers/leaks.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { stringify as yamlStringify } from 'yaml';
import { parseRunbook, KNOWN_ATTRIBUTES } from '../server/runbook/parse.ts';
import { parseFenceInfo } from '../server/runbook/attributes.ts';
import { parseClientMessage, MAX_CONTROL_MESSAGE_BYTES } from '../common/protocol.ts';
import { CODES, type Code } from '../server/errors.ts';
import type { ParseResult } from '../server/runbook/model.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const FILE = 'fuzz.md';
/** Fixed seed by default so a failure reproduces; FUZZ_SEED=random explores. */
const SEED = process.env.FUZZ_SEED === 'random' ? Date.now() : Number(process.env.FUZZ_SEED ?? 20_251_127);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const opts = (numRuns = RUNS) => ({ numRuns, seed: SEED, endOnFailure: true });

/** Lines as the parser counts them: BOM dropped, CRLF and lone CR are line ends. */
function lineCount(src: string): number {
  return src.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n').split('\n').length;
}

/** The parser's contract, for any input whatsoever. */
function checkParse(src: string): ParseResult {
  let r: ParseResult;
  try {
    r = parseRunbook(src, FILE);
  } catch (e) {
    assert.fail(`parseRunbook threw: ${(e as Error).stack}`);
  }
  return checkResult(src, r);
}

function checkResult(src: string, r: ParseResult): ParseResult {
  assert.ok(Array.isArray(r.diagnostics));
  const lines = lineCount(src);
  for (const d of r.diagnostics) {
    assert.ok(Object.prototype.hasOwnProperty.call(CODES, d.code), `unknown code ${d.code}`);
    assert.notEqual(d.code, 'PARSE_FAILED' satisfies Code, `an internal parser error: ${d.message}`);
    assert.equal(d.severity, CODES[d.code].severity);
    assert.equal(d.file, FILE);
    assert.ok(Number.isInteger(d.line) && d.line >= 1 && d.line <= lines, `${d.code} at line ${d.line} of ${lines}: ${d.message}`);
    assert.equal(typeof d.message, 'string');
    assert.ok(d.message.length > 0 && d.message.length < 2_000, 'messages are short (inputs are quoted, not echoed whole)');
  }
  assert.ok(r.runbook || r.diagnostics.some((d) => d.severity === 'error'), 'a model, or an error saying why not');
  const rb = r.runbook;
  if (rb) {
    assert.ok(JSON.stringify(rb), 'the model is plain data');
    const stepIds = new Set(rb.steps.map((s) => s.id));
    assert.equal(stepIds.size, rb.steps.length, 'step ids are unique');
    for (const s of rb.steps) {
      assert.ok(s.line >= 1 && s.line <= lines);
      for (const id of [...s.commands, ...s.checks]) {
        assert.ok(Object.hasOwn(rb.blocks, id), `step ${s.id} names block ${id}`);
        assert.equal(rb.blocks[id]!.stepId, s.id);
      }
      for (const p of s.parts) if (p.kind === 'block') assert.ok(Object.hasOwn(rb.blocks, p.blockId));
    }
    for (const [id, b] of Object.entries(rb.blocks)) {
      assert.equal(b.id, id);
      assert.ok(b.line >= 1 && b.line <= lines, `block ${id} at line ${b.line} of ${lines}`);
      assert.ok(['command', 'check', 'file', 'display'].includes(b.kind));
    }
    assert.match(rb.contentHash, /^[0-9a-f]{64}$/);
  }
  return r;
}

// ---- arbitraries ----

const word = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,11}$/);
/** Any text on one line: every code unit, lone surrogates included, but no line ends. */
const lineText = fc.string({ unit: 'binary', maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, ' '));
const nasty = fc.constantFrom('', ' ', '"', "'", '{', '}', '=', '\\', '\\"', '${', '${X}', '${WORKDIR}/a', '`', '\u0000', '\u2028', '\uFEFF', '\uD800', '<script>alert(1)</script>', '__proto__', 'constructor', '^br0\\s', '(', '[', '*', 'a{1000}', '(a+)+$', '-1', '1e309', '0x10', 'NaN', 'true', 'false', 'null');
const attrKey = fc.oneof(fc.constantFrom(...KNOWN_ATTRIBUTES), word, fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '_x', 'a.b', '-x', '1x'), lineText);
const scalar = fc.oneof(fc.boolean(), fc.integer(), fc.double(), word, lineText, nasty);
const attrValue = fc.oneof(scalar, fc.array(fc.oneof(word, fc.integer()), { maxLength: 3 }), fc.constant(null), fc.dictionary(word, word, { maxKeys: 2 }));

/** `{k=v k2="v" flag}` with bare, double-quoted or single-quoted values, some malformed. */
const braceAttrs = fc
  .array(fc.tuple(attrKey, fc.option(scalar), fc.constantFrom('bare', 'dq', 'sq', 'raw')), { maxLength: 5 })
  .chain((pairs) =>
    fc.tuple(fc.constant(pairs), fc.constantFrom('{', '{ ', ' {'), fc.constantFrom('}', ' }', '', '}}', '} x')),
  )
  .map(([pairs, open, close]) => {
    const parts = pairs.map(([k, v, style]) => {
      if (v === null) return k;
      const text = String(v);
      if (style === 'dq') return `${k}="${text.replace(/["\\]/g, (c) => '\\' + c)}"`;
      if (style === 'sq') return `${k}='${text}'`;
      if (style === 'raw') return `${k}=${text}`;
      return `${k}=${text.replace(/[\s"'{}=]/g, '')}`;
    });
    return open + parts.join(' ') + close;
  });
/** `{"k": v}`: well-formed JSON of random values, or a broken cut of it. */
const jsonAttrs = fc.oneof(
  fc.dictionary(attrKey, attrValue, { maxKeys: 5 }).map((o) => JSON.stringify(o)),
  fc.dictionary(attrKey, attrValue, { maxKeys: 5 }).chain((o) => {
    const s = JSON.stringify(o);
    return fc.integer({ min: 0, max: s.length }).map((n) => s.slice(0, n));
  }),
  fc.json({ maxDepth: 3 }),
);
const lang = fc.oneof(fc.constantFrom('sh', 'bash', 'shell', 'console', 'xml', 'python', '', 'SH', 'sh{', 'sh}'), word);
const infoString = fc.oneof(
  fc.tuple(lang, fc.constantFrom(' ', '', '  ', '\t'), fc.oneof(braceAttrs, jsonAttrs, fc.constant(''))).map(([l, sp, a]) => `${l}${sp}${a}`),
  lineText,
);

const heading = fc.tuple(fc.integer({ min: 1, max: 7 }), fc.oneof(lineText, word, fc.constant('')), fc.constantFrom(' ', '', '  ')).map(([n, t, sp]) => `${'#'.repeat(n)}${sp}${t}`);
const fence = fc
  .record({
    marker: fc.constantFrom('```', '~~~', '````', '``'),
    indent: fc.constantFrom('', ' ', '   ', '    ', '- ', '> ', '1. '),
    info: infoString,
    body: fc.array(fc.oneof(lineText, fc.constant('echo "$WHO" $UNDECLARED ${X}'), fc.constant('```'), fc.constant('X=1; echo $X')), { maxLength: 4 }),
    closed: fc.boolean(),
  })
  .map(({ marker, indent, info, body, closed }) => [indent + marker + info, ...body.map((l) => indent + l), ...(closed ? [indent + marker] : [])].join('\n'));
const prose = fc.oneof(
  lineText,
  fc.tuple(fc.integer({ min: 0, max: 6 }), lineText).map(([d, t]) => `${'  '.repeat(d)}- ${t}`),
  lineText.map((t) => `> ${t}`),
  fc.constantFrom('---', '...', '', '<script>window.__pwned=1</script>', '[x](javascript:alert(1))', '<!-- -->', '| a | b |\n|---|---|', '***'),
);

const yamlScalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null), nasty);
const varSpec = fc.record(
  {
    default: fc.oneof(yamlScalar, fc.array(yamlScalar, { maxLength: 2 })),
    describe: yamlScalar,
    pattern: fc.oneof(fc.constantFrom('[a-z]+', '(', '[', 'a{2,1}', '(?<n>x)', '\\', '.*', '(a+)+'), yamlScalar),
    secret: fc.oneof(fc.boolean(), yamlScalar),
    extra: yamlScalar,
  },
  { requiredKeys: [] },
);
const frontMatterObject = fc.record(
  {
    id: fc.oneof(word, yamlScalar),
    title: yamlScalar,
    summary: yamlScalar,
    section: fc.oneof(fc.constantFrom('1', '2.10', 3), yamlScalar),
    os: fc.oneof(fc.array(word, { maxLength: 3 }), yamlScalar),
    requires: fc.oneof(fc.array(word, { maxLength: 3 }), yamlScalar),
    vars: fc.oneof(fc.dictionary(fc.oneof(word, lineText), varSpec, { maxKeys: 3 }), fc.array(yamlScalar, { maxLength: 2 }), yamlScalar),
    unknown: yamlScalar,
  },
  { requiredKeys: [] },
);
const frontMatter = fc.oneof(
  frontMatterObject.map((o) => {
    try {
      return yamlStringify(o);
    } catch {
      return 'title: x\n';
    }
  }),
  fc.string({ maxLength: 60 }), // random "YAML"
  fc.constantFrom('title: [unclosed\n', '&a [*a]\n', 'vars: !!binary x\n', 'a: &x 1\nb: *x\n*y\n', ': :\n', '? a\n', 'title: "\\u0000"\n', '%YAML 9.9\n---\n'),
);

const markdownDoc = fc
  .record({
    fm: fc.option(fc.tuple(frontMatter, fc.constantFrom('---', '...', '--- ', ''))),
    parts: fc.array(fc.oneof({ arbitrary: heading, weight: 2 }, { arbitrary: fence, weight: 3 }, { arbitrary: prose, weight: 2 }), { maxLength: 14 }),
    eol: fc.constantFrom('\n', '\r\n', '\r'),
    bom: fc.boolean(),
  })
  .map(({ fm, parts, eol, bom }) => {
    const body = parts.join('\n\n');
    const head = fm ? `---\n${fm[0]}${fm[0].endsWith('\n') ? '' : '\n'}${fm[1]}\n` : '';
    return (bom ? '\uFEFF' : '') + (head + body).replace(/\n/g, eol);
  });

// ---- the parser ----

test('parseRunbook: random strings never throw and give a model or located diagnostics', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (s) => void checkParse(s)), opts());
  fc.assert(fc.property(fc.string({ unit: fc.constantFrom('#', '`', '~', '-', ' ', '\n', '{', '}', '=', '"', 'a', 'h', ':', '>', '\r', '$'), maxLength: 300 }), (s) => void checkParse(s)), opts());
});

test('parseRunbook: random Markdown (headings, fences with brace/JSON attributes, YAML front matter)', () => {
  fc.assert(fc.property(markdownDoc, (s) => void checkParse(s)), opts());
});

test('parseRunbook: known nasty inputs (YAML aliases and tags, unclosed fences, deep brackets, reserved ids)', () => {
  const bytes = Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919 + 13) % 256));
  const inputs = [
    '', '\n', '---', '---\n', '---\n---', '---\n---\n', '---\ntitle: x\n', '...', '\uFEFF', '\0\0\0',
    '```', '```sh', '```sh {', '```sh {id=', '# T\n## S\n```sh\necho never closed', '~~~sh {verify}\n',
    '---\n- a\n- b\n---\n', '---\n!!binary aGVsbG8=\n---\n', '---\na: &a [*a]\n---\n',
    '---\nvars: &v\n  A: *v\n---\n# T\n', '---\nvars:\n  A: !!js/function "x"\n---\n',
    '---\n' + 'a: &a [' + '*a,'.repeat(50) + ']\n---\n',
    '>'.repeat(5000) + ' ```sh\n', '['.repeat(50000), '- '.repeat(3000) + '```sh', '`'.repeat(10000),
    '## \n```sh {id=__proto__}\n```\n## \n', '## constructor\n```sh {id=constructor}\n```\n## toString\n',
    '# ' + 'a'.repeat(100000), bytes.toString('utf8'), bytes.toString('latin1'),
    '\r\r\r## a\r```sh\r$X\r```\r', '\u2028## S\u2029```sh\n```', '---\r\ntitle: t\r\n---\r\n',
  ];
  for (const input of inputs) checkParse(input);
});

function shippedRunbooks(): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.md')) out.push({ file: path.relative(ROOT, p), text: fs.readFileSync(p, 'utf8') });
    }
  };
  walk(path.join(ROOT, 'runbooks'));
  walk(path.join(ROOT, 'test/fixtures'));
  return out;
}

test('parseRunbook: mutations of the shipped runbooks (byte flips, line deletions and duplications, truncation)', () => {
  const docs = shippedRunbooks();
  assert.ok(docs.length >= 5, 'found the shipped runbooks');
  for (const d of docs) checkParse(d.text);
  type Mutation = { kind: 'flip'; at: number; bit: number } | { kind: 'delete'; at: number } | { kind: 'dup'; at: number } | { kind: 'truncate'; at: number } | { kind: 'swap'; at: number };
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('dup' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('swap' as const), at: fc.nat() }),
  );
  const apply = (text: string, ms: Mutation[]): string => {
    for (const m of ms) {
      if (m.kind === 'flip') {
        const bytes = Buffer.from(text, 'utf8');
        if (!bytes.length) continue;
        bytes[m.at % bytes.length]! ^= 1 << m.bit;
        text = bytes.toString('utf8');
      } else if (m.kind === 'truncate') {
        text = text.slice(0, m.at % (text.length + 1));
      } else {
        const lines = text.split('\n');
        const i = m.at % lines.length;
        if (m.kind === 'delete') lines.splice(i, 1);
        else if (m.kind === 'dup') lines.splice(i, 0, lines[i]!);
        else if (i + 1 < lines.length) [lines[i], lines[i + 1]] = [lines[i + 1]!, lines[i]!];
        text = lines.join('\n');
      }
    }
    return text;
  };
  fc.assert(
    fc.property(fc.nat({ max: docs.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 6 }), (i, ms) => void checkParse(apply(docs[i]!.text, ms))),
    opts(Math.max(100, Math.floor(RUNS / 2))),
  );
});

test('parseFenceInfo never throws; what it returns is well-formed', () => {
  const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).join();
  fc.assert(
    fc.property(fc.oneof(infoString, fc.string({ unit: 'binary', maxLength: 120 })), (info) => {
      const r = parseFenceInfo(info);
      assert.equal(typeof r.lang, 'string');
      assert.ok(r.attrs && typeof r.attrs === 'object');
      if (r.error !== undefined) {
        assert.equal(typeof r.error, 'string');
        assert.deepEqual(Object.keys(r.attrs), [], 'no attributes alongside an error');
      }
      for (const [k, v] of Object.entries(r.attrs)) {
        assert.match(k, /^[A-Za-z_][A-Za-z0-9_.-]*$/);
        assert.ok(['string', 'number', 'boolean'].includes(typeof v), `${k}: ${typeof v}`);
      }
      // a key like __proto__ stays a key: neither the attributes' prototype nor Object.prototype changes
      assert.ok([Object.prototype, null].includes(Object.getPrototypeOf(r.attrs)), `attrs of ${JSON.stringify(info)} got a prototype`);
      assert.equal(Object.getOwnPropertyNames(Object.prototype).join(), prototypeKeys, 'no prototype pollution');
    }),
    opts(RUNS * 3),
  );
});

// ---- websocket client messages ----

test('parseClientMessage never throws and accepts only the valid shapes', () => {
  const validShape = (m: unknown) => {
    const o = m as Record<string, unknown>;
    const int = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
    if (o.type === 'resize') return Object.keys(o).length === 3 && int(o.cols, 1, 1000) && int(o.rows, 1, 1000);
    if (o.type === 'ack') return Object.keys(o).length === 2 && int(o.bytes, 0, Number.MAX_SAFE_INTEGER);
    return false;
  };
  const check = (text: string) => {
    let r;
    try {
      r = parseClientMessage(text);
    } catch (e) {
      assert.fail(`parseClientMessage threw on ${JSON.stringify(text).slice(0, 80)}: ${(e as Error).message}`);
    }
    if (r.ok) {
      assert.ok(validShape(r.message), `accepted ${JSON.stringify(r.message)}`);
      assert.ok(text.length <= MAX_CONTROL_MESSAGE_BYTES);
    } else {
      assert.equal(typeof r.error, 'string');
      assert.ok(r.error.length < 200, 'errors do not echo the input whole');
    }
    return r;
  };
  const near = fc.record(
    {
      type: fc.oneof(fc.constantFrom('resize', 'ack', 'RESIZE', 'input', '__proto__', 'constructor', ''), fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null)),
      cols: fc.oneof(fc.integer({ min: -5, max: 1005 }), fc.double(), fc.string({ maxLength: 4 }), fc.constant(null), fc.constant(1e400)),
      rows: fc.oneof(fc.integer({ min: -5, max: 1005 }), fc.double(), fc.boolean()),
      bytes: fc.oneof(fc.integer(), fc.double(), fc.bigInt().map(String), fc.constant(Number.MAX_SAFE_INTEGER + 2)),
      data: fc.string({ maxLength: 10 }),
    },
    { requiredKeys: [] },
  );
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => void check(s)), opts(RUNS * 3));
  fc.assert(fc.property(fc.json({ maxDepth: 3 }), (s) => void check(s)), opts(RUNS * 2));
  fc.assert(fc.property(near, (o) => void check(JSON.stringify(o))), opts(RUNS * 3));
  // every valid message round-trips exactly
  const valid = fc.oneof(
    fc.record({ type: fc.constant('resize' as const), cols: fc.integer({ min: 1, max: 1000 }), rows: fc.integer({ min: 1, max: 1000 }) }),
    fc.record({ type: fc.constant('ack' as const), bytes: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) }),
  );
  fc.assert(
    fc.property(valid, (m) => {
      const r = check(JSON.stringify(m));
      assert.ok(r.ok);
      assert.deepEqual(r.message, { ...m }); // fc.record builds null-prototype objects
    }),
    opts(),
  );
  assert.equal(check(JSON.stringify({ type: 'ack', bytes: 1, pad: 'x'.repeat(MAX_CONTROL_MESSAGE_BYTES) })).ok, false, 'over-long frames are refused');
  assert.equal(check('{"type":"resize","cols":80,"rows":24,"__proto__":{"admin":true}}').ok, true, 'extra keys are dropped, not trusted');
});

// ---- very large input (times measured and printed, not asserted) ----

/** Parses (printing how long it took), then holds the result to the parser's contract. */
function timed(name: string, src: string): ParseResult {
  const t0 = performance.now();
  const r = parseRunbook(src, FILE);
  const ms = performance.now() - t0;
  checkResult(src, r);
  console.log(`# ${name}: ${(src.length / 1024 / 1024).toFixed(2)} MB parsed in ${ms.toFixed(0)} ms (${r.runbook?.steps.length ?? 0} steps, ${r.diagnostics.length} diagnostics)`);
  return r;
}

test('a runbook of 10 000 steps parses', { timeout: 60_000 }, () => {
  let s = '# Ten thousand steps\n\n';
  for (let i = 0; i < 10_000; i++) s += `## Step ${i}\n\nDo thing ${i}.\n\n\`\`\`sh {id=do-${i}}\necho ${i}\n\`\`\`\n\n\`\`\`sh {id=check-${i} verify}\ntest ${i} -ge 0\n\`\`\`\n\n`;
  const r = timed('10 000 steps', s);
  assert.equal(r.runbook?.steps.length, 10_000);
  assert.equal(Object.keys(r.runbook!.blocks).length, 20_000);
});

test('a list nested 2 000 deep parses', { timeout: 60_000 }, () => {
  const head = '# Deep\n\n## The only step\n\n';
  let indented = head;
  for (let d = 0; d < 2_000; d++) indented += `${'  '.repeat(d)}- level ${d}\n`;
  checkParse(indented);
  timed('list nested 2 000 deep (indented items)', indented);
  timed('list nested 2 000 deep (- - - …)', head + '- '.repeat(2_000) + 'deepest\n\n## After\n\n```sh {id=after}\necho after\n```\n');
  timed('block quote nested 2 000 deep', head + '> '.repeat(2_000) + 'deepest\n');
  timed('fence inside a list nested 2 000 deep', head + '- '.repeat(2_000) + '```sh\necho nested\n```\n');
});

test('a 5 MB runbook parses', { timeout: 60_000 }, () => {
  let s = '---\ntitle: Five megabytes\nvars:\n  WHO:\n    default: world\n    describe: who\n---\n# Big\n\n';
  let i = 0;
  while (s.length < 5 * 1024 * 1024) {
    s += `## Step ${i}\n\nSome *prose* with \`code\`, a [link](https://example.org/${i}) and a list:\n\n- one\n- two\n  - nested\n\n`;
    s += `\`\`\`sh {id=s${i} timeout=30 hint="check \\"step ${i}\\""}\n${'echo "$WHO line of output"\n'.repeat(20)}\`\`\`\n\n\`\`\`console\n${'sample output line\n'.repeat(10)}\`\`\`\n\n`;
    i++;
  }
  const r = timed('5 MB runbook', s);
  assert.equal(r.runbook?.steps.length, i);
  // one 5 MB block, and 5 MB on a single line
  timed('5 MB in one block', '# Big\n\n## S\n\n```sh {id=x}\n' + 'echo "$WHO lorem ipsum dolor sit amet"\n'.repeat(130_000) + '```\n');
  timed('5 MB on one line', '# Big\n\n## S\n\n' + 'a'.repeat(5 * 1024 * 1024));
});

// markdown-it stops tokenizing at its nesting limit (maxNesting 100 token levels, i.e. a list
// about 50 deep); the parser reports that (NESTING_TOO_DEEP) rather than drop the rest silently.
test('content after a too-deeply nested list is kept or reported, never silently dropped', () => {
  for (const depth of [40, 60, 2_000]) {
    const src = '# Deep\n\n## First\n\n' + '- '.repeat(depth) + 'x\n\n## After\n\n```sh {id=after}\necho after\n```\n\n```sh {id=after-check verify}\ntrue\n```\n';
    const r = checkParse(src);
    const kept = !!r.runbook && Object.hasOwn(r.runbook.blocks, 'after-check');
    assert.ok(kept || r.diagnostics.some((d) => d.severity === 'error'), `depth ${depth}: the step after the list vanished without a diagnostic`);
  }
});

test('terminalInput (what the page sends from xterm.js) never throws; keystrokes pass, status replies do not', async () => {
  const { terminalInput } = await import('../static/input-filter.ts');
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => {
      const out = terminalInput(s);
      if (!s.startsWith('\x1bP') && !s.startsWith('\x1b]') && !s.startsWith('\x1b[200~')) assert.equal(out, s, 'ordinary input is untouched');
      if (out !== undefined && s.startsWith('\x1b[200~') && s.endsWith('\x1b[201~') && s.length >= 12) {
        assert.ok(!out.slice(6, -6).includes('\x1b[201~'), 'a paste cannot end itself early');
      }
    }),
    opts(RUNS * 3),
  );
  for (const reply of ['\x1bP1$r0m\x1b\\', '\x1bP0$r\x1b\\', '\x1bP1$r2 q\x1b\\', '\x1b]11;rgb:0d0d/1111/1717\x1b\\', '\x1b]10;rgb:e6e6/eded/f3f3\x07']) {
    assert.equal(terminalInput(reply), undefined, JSON.stringify(reply));
  }
  for (const key of ['a', '\r', '\x03', '\x1b', '\x1b[A', '\x1bOP', '\x1b[1;5C', '\x1bp', '\x1bP', '\x1b]', '\x1b[12;1R', '\x1b[?1;2c', 'é가']) {
    assert.equal(terminalInput(key), key, JSON.stringify(key));
  }
});

noLeaks();
