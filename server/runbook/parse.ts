// The runbook parser (pure): Markdown source → Runbook model + diagnostics.
//
// No fs, no path, no network: the catalog (catalog.ts) reads files and calls parseRunbook.
// parseRunbook never throws: an internal exception becomes a PARSE_FAILED diagnostic.
// See docs/format.md for the format this implements.

import { createHash } from 'node:crypto';
import MarkdownIt from 'markdown-it';
import type { Token } from 'markdown-it';
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node as YamlNode, Pair, Scalar } from 'yaml';
import { diagnostic, type Code, type Diagnostic } from '../errors.ts';
import { parseFenceInfo, type AttrValue } from './attributes.ts';
import type { Answer, Block, BlockKind, ParseResult, Runbook, Step, StepPart, VarSpec } from './model.ts';
import { stepSlug } from './slug.ts';

export interface ParseOptions {
  /** Id to use when the front matter has none (default: the file's basename without `.md`). */
  id?: string;
}

/** Ids of runbooks and explicit block ids. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Names of declared variables. */
export const VAR_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Only `$NAME` uses with such names are checked against the declarations. */
const CHECKED_VAR_NAME = /^[A-Z][A-Z0-9_]*$/;

/** Environment variables a block may use without declaring them. */
export const WELL_KNOWN_ENV: readonly string[] = [
  'HOME', 'PATH', 'PWD', 'OLDPWD', 'USER', 'LOGNAME', 'SHELL', 'TERM', 'LANG', 'LANGUAGE', 'LC_ALL',
  'HOSTNAME', 'UID', 'EUID', 'PPID', 'RANDOM', 'SECONDS', 'LINENO', 'BASH', 'BASH_VERSION', 'BASHPID',
  'BASH_SOURCE', 'BASH_REMATCH', 'FUNCNAME', 'PIPESTATUS', 'REPLY', 'OPTARG', 'OPTIND', 'SHLVL',
  'IFS', 'PS1', 'PS2', 'EDITOR', 'TMPDIR', 'DISPLAY', 'XDG_RUNTIME_DIR', 'OSTYPE', 'HOSTTYPE',
  'MACHTYPE', 'COLUMNS', 'LINES', 'SUDO_USER', 'TZ',
];
const WELL_KNOWN = new Set(WELL_KNOWN_ENV);

export const KNOWN_ATTRIBUTES: readonly string[] = [
  'id', 'name', 'verify', 'hint', 'expect', 'exit', 'timeout', 'confirm', 'os', 'interactive', 'file', 'mode', 'requires',
  'retries', 'retry-delay', 'approve', 'approveTimeout', 'rollback', 'on',
];
const KNOWN_ATTRS = new Set(KNOWN_ATTRIBUTES);
/** The fence language of an answers block (docs/format.md, Answers). */
const ANSWERS_LANG = 'answers';
/** Fence languages of a step's hints and its solution (docs/format.md, Hints): never run, shown only when revealed. */
const HINT_LANG = 'hint';
const SOLUTION_LANG = 'solution';
/** A prompt normally shows within seconds; this long means the program asks something else. */
const DEFAULT_ANSWER_TIMEOUT_SEC = 30;
/** More distinct approvers than a team has is a typo, not a policy. */
const MAX_APPROVERS = 10;

const FRONT_MATTER_FIELDS = ['id', 'title', 'summary', 'section', 'os', 'requires', 'vars', 'lang', 'roles'];
/** A role's name (`roles: [source, destination]`): lower case, usable as a CLI `--role NAME=` and an id in pages. */
export const ROLE_NAME_PATTERN = /^[a-z][a-z0-9-]*$/;
/** A language code as in BCP 47, simplified: `en`, `ko`, `pt-BR`, `zh-Hant`. */
export const LANG_PATTERN = /^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$/;
/** A heading that ends in `{#id}` gives its step that id instead of the slug (translations keep the source's ids). */
const HEADING_ID = /\s*\{#([A-Za-z0-9][A-Za-z0-9._-]*)\}$/;
const VAR_FIELDS = ['default', 'describe', 'pattern', 'pattern_message', 'secret'];
const SHELL_LANGS = new Set(['sh', 'bash', 'shell']);

/** A variable's pattern as the validator and engine apply it: the whole value must match. */
export function compileVarPattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

/** A block's `expect` as the engine applies it: searched in the output, `^`/`$` match at line ends. */
export function compileExpect(expect: string): RegExp {
  return new RegExp(expect, 'm');
}

const md = new MarkdownIt({ html: false });

export function parseRunbook(source: string, file: string, opts: ParseOptions = {}): ParseResult {
  const diags: Diagnostic[] = [];
  const fileName = typeof file === 'string' ? file : String(file);
  try {
    const runbook = new Parser(String(source), fileName, opts ?? {}, diags).parse();
    return { runbook, diagnostics: sortDiagnostics(diags) };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    diags.push(diagnostic(fileName, 1, 'PARSE_FAILED', `internal parser error: ${message}`));
    return { diagnostics: sortDiagnostics(diags) };
  }
}

function sortDiagnostics(diags: Diagnostic[]): Diagnostic[] {
  return diags.slice().sort((a, b) => a.line - b.line);
}

function basenameId(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? '';
  return base.replace(/\.md$/i, '');
}

function show(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  return JSON.stringify(s.length > 80 ? s.slice(0, 77) + '...' : s);
}

interface FrontMatter {
  id?: string;
  title?: string;
  summary?: string;
  section?: string;
  os?: string[];
  requires?: string[];
  vars: VarSpec[];
  lang?: string;
  roles?: string[];
}

interface Heading {
  level: number;
  /** 0-based [start, end) lines. */
  map: [number, number];
  text: string;
}

interface Fence {
  token: Token;
  map: [number, number];
}

class Parser {
  private readonly lines: string[];
  private readonly blocks: Record<string, Block> = {};
  private readonly blockLines = new Map<string, number>();
  /** The front matter's roles, once read (blocks check their on= against them). */
  private roles: string[] | undefined;

  constructor(
    private readonly source: string,
    private readonly file: string,
    private readonly opts: ParseOptions,
    private readonly diags: Diagnostic[],
  ) {
    let text = source.startsWith('\uFEFF') ? source.slice(1) : source;
    text = text.replace(/\r\n?/g, '\n');
    this.lines = text.split('\n');
  }

  private report(line: number, code: Code, message: string): void {
    this.diags.push(diagnostic(this.file, line, code, message));
  }

  parse(): Runbook {
    const fm = this.frontMatter();
    this.roles = fm.roles;
    const body = this.lines.join('\n');
    const tokens = md.parse(body, {});
    // markdown-it stops reading at its nesting limit and drops the rest of the file silently.
    const deepest = tokens.reduce<Token | undefined>((d, t) => (t.level > (d?.level ?? -1) ? t : d), undefined);
    if (deepest && deepest.level >= md.options.maxNesting - 1) {
      const at = tokens.filter((t) => t.map).reduce((l, t) => Math.max(l, t.map![0]), 0) + 1;
      this.report(at, 'NESTING_TOO_DEEP', `lists or quotes are nested about ${Math.floor(md.options.maxNesting / 2)} levels deep, past what Markdown parsing supports; steps and blocks after this may be missing`);
    }

    // Collect top-level headings and fences; warn about fences nested in lists/quotes.
    const events: Array<{ kind: 'heading'; h: Heading } | { kind: 'fence'; f: Fence }> = [];
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (!t.map) continue;
      const map: [number, number] = [t.map[0], t.map[1]];
      if (t.type === 'heading_open' && t.level === 0) {
        const inline = tokens[i + 1];
        events.push({ kind: 'heading', h: { level: Number(t.tag.slice(1)), map, text: inlineText(inline) } });
      } else if (t.type === 'fence') {
        if (t.level === 0) {
          events.push({ kind: 'fence', f: { token: t, map } });
        } else {
          const info = t.info.trim();
          const lang = info.split(/[\s{]/)[0]!.toLowerCase();
          if (SHELL_LANGS.has(lang) || info.includes('{')) {
            this.report(map[0] + 1, 'NESTED_BLOCK', `fenced ${lang || 'code'} block inside a list or quote is shown as text and never run; move it to the top level (not indented) to make it a block`);
          }
        }
      }
    }

    const firstH2 = events.findIndex((e) => e.kind === 'heading' && e.h.level === 2);
    const introEvents = firstH2 < 0 ? events : events.slice(0, firstH2);
    const introEnd = firstH2 < 0 ? this.lines.length : (events[firstH2] as { h: Heading }).h.map[0];

    // Title: the first H1 before the first step; the front matter title wins.
    let titleHeading: Heading | undefined;
    for (const e of introEvents) {
      if (e.kind === 'heading' && e.h.level === 1) {
        titleHeading = e.h;
        break;
      }
    }
    const id = fm.id ?? this.opts.id ?? basenameId(this.file);
    let title = fm.title || titleHeading?.text || '';
    if (title === '') {
      this.report(1, 'NO_TITLE', 'runbook has no title: add a "# Title" heading or a front matter title');
      title = id;
    }

    // Intro: source lines before the first H2 minus the title heading; its fences are registered too.
    const introLines: string[] = [];
    for (let l = 0; l < introEnd; l++) {
      if (titleHeading && l >= titleHeading.map[0] && l < titleHeading.map[1]) continue;
      introLines.push(this.lines[l]!);
    }
    const intro = trimBlankLines(introLines);
    let introN = 0;
    for (const e of introEvents) {
      if (e.kind !== 'fence') continue;
      introN++;
      const block = this.block(e.f, '', `intro-${introN}`);
      if (block.kind !== 'display') {
        this.report(block.line, 'BLOCK_OUTSIDE_STEP', `${block.kind} block ${block.id} comes before the first step (## heading) and would never run; move it into a step or make it a display block`);
      }
    }

    // Steps.
    const steps: Step[] = [];
    const stepLines = new Map<string, number>();
    if (firstH2 < 0) {
      this.report(1, 'NO_STEPS', 'runbook has no steps: each "## Heading" starts a step');
    } else {
      let current: { h: Heading; fences: Fence[] } | undefined;
      const groups: Array<{ h: Heading; fences: Fence[] }> = [];
      for (const e of events.slice(firstH2)) {
        if (e.kind === 'heading' && e.h.level === 2) {
          current = { h: e.h, fences: [] };
          groups.push(current);
        } else if (e.kind === 'fence' && current) {
          current.fences.push(e.f);
        }
      }
      for (let g = 0; g < groups.length; g++) {
        const { h, fences } = groups[g]!;
        const end = g + 1 < groups.length ? groups[g + 1]!.h.map[0] : this.lines.length;
        const line = h.map[0] + 1;
        const explicit = HEADING_ID.exec(h.text);
        const stepTitle = explicit ? h.text.slice(0, explicit.index) : h.text;
        let stepId = explicit ? explicit[1]! : stepSlug(h.text, g + 1);
        const previous = stepLines.get(stepId);
        if (previous !== undefined) {
          const unique = uniqueId(stepId, (c) => stepLines.has(c));
          this.report(line, 'DUPLICATE_STEP_ID', `step id ${show(stepId)} (from heading ${show(h.text)}) is already used by the step on line ${previous}; this step is renamed ${unique} until the heading is changed`);
          stepId = unique;
        }
        stepLines.set(stepId, line);

        const parts: StepPart[] = [];
        const commands: string[] = [];
        const checks: string[] = [];
        const rollback: string[] = [];
        const hints: string[] = [];
        let solution: string | undefined;
        let cursor = h.map[1];
        let before: Block | undefined;
        fences.forEach((f, n) => {
          const prose = trimBlankLines(this.lines.slice(cursor, f.map[0]));
          if (prose !== '') parts.push({ kind: 'prose', markdown: prose });
          const block = this.block(f, stepId, `${stepId}-${n + 1}`);
          // Hints and the solution are held back until revealed (server/class/hints.ts): not a
          // part of the step, not a block of the runbook, so no page or answer shows them unasked.
          const aside = block.lang.toLowerCase();
          if (aside === HINT_LANG || aside === SOLUTION_LANG) {
            delete this.blocks[block.id];
            if (aside === HINT_LANG) hints.push(block.content);
            else solution = solution === undefined ? block.content : `${solution}\n\n${block.content}`;
            cursor = f.map[1];
            return;
          }
          if (block.lang === ANSWERS_LANG) this.attachAnswers(block, before, f);
          before = block;
          parts.push({ kind: 'block', blockId: block.id });
          if (block.rollback) rollback.push(block.id);
          else if (block.kind === 'check') checks.push(block.id);
          else if (block.kind === 'command' || block.kind === 'file') commands.push(block.id);
          cursor = f.map[1];
        });
        const tail = trimBlankLines(this.lines.slice(cursor, end));
        if (tail !== '') parts.push({ kind: 'prose', markdown: tail });
        if (commands.length > 0 && checks.length === 0) {
          this.report(line, 'STEP_WITHOUT_CHECK', `step ${stepId} runs commands but has no check; add a \`\`\`sh {verify} block that proves the step worked`);
        }
        steps.push({ id: stepId, title: stepTitle || stepId, line, parts, commands, checks, ...(rollback.length ? { rollback } : {}), ...(hints.length ? { hints } : {}), ...(solution !== undefined ? { solution } : {}) });
      }
    }

    this.checkVariables(fm.vars);

    const runbook: Runbook = {
      id,
      file: this.file,
      title,
      summary: fm.summary ?? '',
      ...(fm.section !== undefined ? { section: fm.section } : {}),
      ...(fm.os !== undefined ? { os: fm.os } : {}),
      ...(fm.lang !== undefined ? { lang: fm.lang } : {}),
      requires: fm.requires ?? [],
      ...(fm.roles !== undefined ? { roles: fm.roles } : {}),
      vars: fm.vars,
      intro,
      steps,
      blocks: this.blocks,
      contentHash: createHash('sha256').update(this.source, 'utf8').digest('hex'),
    };
    return runbook;
  }

  // ---------------------------------------------------------------- front matter

  private frontMatter(): FrontMatter {
    const fm: FrontMatter = { vars: [] };
    if (!/^---[ \t]*$/.test(this.lines[0] ?? '')) return fm;
    let close = -1;
    for (let l = 1; l < this.lines.length; l++) {
      if (/^(---|\.\.\.)[ \t]*$/.test(this.lines[l]!)) {
        close = l;
        break;
      }
    }
    if (close < 0) {
      this.report(1, 'FRONT_MATTER_YAML', 'front matter opened with --- on line 1 is never closed by a --- line');
      return fm;
    }
    const yamlText = this.lines.slice(1, close).join('\n');
    // Blank the front matter so Markdown line numbers stay those of the file.
    for (let l = 0; l <= close; l++) this.lines[l] = '';

    const counter = new LineCounter();
    const doc = parseDocument(yamlText, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
    const lineAt = (offset: number | undefined): number => Math.max(1, counter.linePos(offset ?? 0).line) + 1;
    const nodeLine = (node: unknown): number => lineAt((node as YamlNode | null)?.range?.[0]);
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        this.report(lineAt(err.pos?.[0]), 'FRONT_MATTER_YAML', `front matter is not valid YAML: ${err.message.split('\n')[0]}`);
      }
      return fm;
    }
    const contents = doc.contents;
    if (contents === null || (isScalar(contents) && contents.value === null)) return fm;
    if (!isMap(contents)) {
      this.report(nodeLine(contents), 'FRONT_MATTER_FIELD', `front matter must be a mapping of fields (${FRONT_MATTER_FIELDS.join(', ')})`);
      return fm;
    }
    const text = (node: unknown): string | undefined => scalarText(node, yamlText);
    for (const pair of contents.items as Pair[]) {
      const keyNode = pair.key;
      const line = nodeLine(keyNode);
      const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
      const value = pair.value as YamlNode | null;
      if (key === undefined || !FRONT_MATTER_FIELDS.includes(key)) {
        this.report(line, 'FRONT_MATTER_FIELD', `unknown front matter field ${show(key ?? '?')} (known: ${FRONT_MATTER_FIELDS.join(', ')})`);
        continue;
      }
      if (value === null || (isScalar(value) && value.value === null)) continue;
      const wrong = (expected: string) => this.report(nodeLine(value) || line, 'FRONT_MATTER_FIELD', `front matter field ${key} must be ${expected}`);
      switch (key) {
        case 'id': {
          const v = text(value);
          if (v === undefined || !ID_PATTERN.test(v)) wrong('an id made of letters, digits, ".", "_" and "-" (starting with a letter or digit)');
          else fm.id = v;
          break;
        }
        case 'lang': {
          const v = text(value);
          if (v === undefined || !LANG_PATTERN.test(v)) wrong('a language code like en or ko');
          else fm.lang = v;
          break;
        }
        case 'title':
        case 'summary':
        case 'section': {
          const v = text(value);
          if (v === undefined) wrong('a string');
          else fm[key] = v;
          break;
        }
        case 'os':
        case 'requires': {
          const list = stringList(value, yamlText);
          if (list === undefined) wrong('a string or a list of strings');
          else fm[key] = key === 'os' ? list.map((s) => s.toLowerCase()) : list;
          break;
        }
        case 'roles':
          fm.roles = this.roleList(value, yamlText, nodeLine, line);
          break;
        case 'vars':
          if (!isMap(value)) wrong('a mapping of variable names to {default, describe, pattern, secret}');
          else fm.vars = this.vars(value.items as Pair[], yamlText, nodeLine);
          break;
      }
    }
    return fm;
  }

  /** `roles: [source, destination]`: distinct names; what is wrong is reported, what is right kept. */
  private roleList(value: YamlNode, yamlText: string, nodeLine: (n: unknown) => number, line: number): string[] | undefined {
    const items = isSeq(value) ? (value.items as unknown[]) : undefined;
    if (!items) {
      this.report(nodeLine(value) || line, 'ROLE_INVALID', 'roles must be a list of role names, like roles: [source, destination]');
      return undefined;
    }
    if (items.length === 0) {
      this.report(nodeLine(value) || line, 'ROLE_INVALID', 'roles is empty: list the hosts the runbook spans, like roles: [source, destination], or leave roles out');
      return undefined;
    }
    const out: string[] = [];
    for (const item of items) {
      const name = scalarText(item, yamlText);
      const at = nodeLine(item) || line;
      if (name === undefined || !ROLE_NAME_PATTERN.test(name)) {
        this.report(at, 'ROLE_INVALID', `role name ${show(name ?? '?')} is invalid: use lower-case letters, digits and "-", starting with a letter`);
      } else if (out.includes(name)) {
        this.report(at, 'ROLE_INVALID', `role ${name} is listed twice`);
      } else out.push(name);
    }
    return out.length ? out : undefined;
  }

  private vars(items: Pair[], yamlText: string, nodeLine: (n: unknown) => number): VarSpec[] {
    const out: VarSpec[] = [];
    for (const pair of items) {
      const line = nodeLine(pair.key);
      const name = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!VAR_NAME_PATTERN.test(name)) {
        this.report(line, 'VAR_INVALID', `variable name ${show(name)} is invalid: use letters, digits and _ (not starting with a digit)`);
        continue;
      }
      const spec: { default: string; describe: string; pattern?: string; patternMessage?: string; secret: boolean } = { default: '', describe: '', secret: false };
      let defaultLine = line;
      const value = pair.value as YamlNode | null;
      if (value === null || (isScalar(value) && value.value === null)) {
        // `NAME:` with nothing: empty default.
      } else if (isScalar(value)) {
        spec.default = scalarText(value, yamlText) ?? '';
        defaultLine = nodeLine(value);
      } else if (isMap(value)) {
        for (const field of value.items as Pair[]) {
          const fLine = nodeLine(field.key);
          const fKey = isScalar(field.key) ? String(field.key.value) : '?';
          const fValue = field.value as YamlNode | null;
          const isNull = fValue === null || (isScalar(fValue) && fValue.value === null);
          switch (fKey) {
            case 'default':
            case 'describe':
            case 'pattern_message': {
              if (isNull) break;
              const v = scalarText(fValue, yamlText);
              if (v === undefined) this.report(fLine, 'VAR_INVALID', `variable ${name}: ${fKey} must be a string`);
              else if (fKey === 'default') {
                spec.default = v;
                defaultLine = fLine;
              } else if (fKey === 'describe') spec.describe = v;
              else spec.patternMessage = v;
              break;
            }
            case 'pattern': {
              if (isNull) break;
              const v = isScalar(fValue) && typeof fValue.value === 'string' ? fValue.value : undefined;
              if (v === undefined) {
                this.report(fLine, 'VAR_INVALID', `variable ${name}: pattern must be a string (quote it)`);
                break;
              }
              try {
                compileVarPattern(v);
                spec.pattern = v;
              } catch (e) {
                this.report(fLine, 'BAD_REGEX', `variable ${name}: pattern ${show(v)} does not compile: ${(e as Error).message}`);
              }
              break;
            }
            case 'secret': {
              if (isNull) break;
              if (isScalar(fValue) && typeof fValue.value === 'boolean') spec.secret = fValue.value;
              else this.report(fLine, 'VAR_INVALID', `variable ${name}: secret must be true or false`);
              break;
            }
            default:
              this.report(fLine, 'VAR_INVALID', `variable ${name}: unknown field ${show(fKey)} (known: ${VAR_FIELDS.join(', ')})`);
          }
        }
      } else {
        this.report(line, 'VAR_INVALID', `variable ${name} must be a default value or a mapping with default, describe, pattern, secret`);
      }
      if (spec.pattern !== undefined && spec.default !== '' && !compileVarPattern(spec.pattern).test(spec.default)) {
        this.report(defaultLine, 'VAR_DEFAULT_MISMATCH', `variable ${name}: default ${show(spec.default)} does not match pattern ${show(spec.pattern)}`);
      }
      out.push({
        name,
        default: spec.default,
        describe: spec.describe,
        ...(spec.pattern !== undefined ? { pattern: spec.pattern } : {}),
        ...(spec.pattern !== undefined && spec.patternMessage !== undefined ? { patternMessage: spec.patternMessage } : {}),
        secret: spec.secret,
        line,
      });
    }
    return out;
  }

  // ---------------------------------------------------------------- blocks

  private block(f: Fence, stepId: string, derivedId: string): Block {
    const line = f.map[0] + 1;
    const info = parseFenceInfo(f.token.info);
    if (info.error !== undefined) this.report(line, 'BAD_ATTRIBUTES_SYNTAX', `block attributes cannot be parsed: ${info.error}`);
    const a = this.typeAttributes(info.attrs, line);

    const isShell = SHELL_LANGS.has(info.lang.toLowerCase());
    let kind: BlockKind;
    if (a.file !== undefined || 'file' in info.attrs) kind = 'file';
    else if (isShell) kind = a.verify ? 'check' : 'command';
    else kind = 'display';

    // Attributes that do not apply to this kind of block.
    const present = Object.keys(info.attrs).filter((k) => KNOWN_ATTRS.has(k));
    for (const k of present) {
      let why: string | undefined;
      if (kind === 'display' && k === 'timeout' && info.lang === ANSWERS_LANG) {
        why = undefined; // an answers block's timeout: the wait for each prompt
      } else if (kind === 'display' && k !== 'id' && k !== 'name') {
        why = k === 'verify'
          ? `verify only applies to sh, bash or shell blocks (this block's language is ${show(info.lang)})`
          : `${k} only applies to executable blocks (sh, bash, shell or file=); this ${info.lang || 'plain'} block is only displayed`;
      } else if (kind === 'file' && k === 'verify') {
        why = 'verify and file cannot be on the same block: a file block writes a file, a check runs a command';
      } else if (k === 'retry-delay' && a.retries === undefined) {
        why = 'retry-delay needs retries=N';
      } else if (k === 'retries' && a.interactive) {
        why = 'retries does not apply to an interactive block';
      } else if (kind === 'file' && ['expect', 'exit', 'interactive', 'timeout'].includes(k)) {
        why = `${k} does not apply to a file block`;
      } else if (kind !== 'file' && k === 'mode') {
        why = 'mode only applies to file blocks (with file=/path)';
      } else if (kind === 'check' && k === 'exit') {
        why = 'exit does not apply to a check: a check passes with exit code 0, warns with 2 and fails otherwise';
      } else if (k === 'approveTimeout' && a.approve === undefined) {
        why = 'approveTimeout needs approve=true (or approve=N)';
      } else if (k === 'timeout' && a.interactive && kind !== 'file') {
        why = 'timeout does not apply to an interactive block: the person at the terminal decides when it ends';
      } else if (k === 'rollback' && a.rollback && kind === 'check') {
        why = 'rollback and verify cannot be on the same block: a rollback block undoes its step, a check judges it (a rollback is judged by its exit code)';
      } else if (k === 'rollback' && a.rollback && a.interactive) {
        why = 'rollback does not apply to an interactive block: a rollback runs unattended (stepwise run --rollback), with nobody at the terminal';
      }
      if (why !== undefined) this.report(line, 'BAD_ATTRIBUTE', why);
    }

    let id = a.id ?? derivedId;
    const previous = this.blockLines.get(id);
    if (previous !== undefined) {
      const unique = uniqueId(id, (c) => this.blockLines.has(c));
      this.report(line, 'DUPLICATE_BLOCK_ID', `block id ${show(id)}${a.id === undefined ? ' (derived from the step id)' : ''} is already used by the block on line ${previous}; this block is renamed ${unique}`);
      id = unique;
    }
    this.blockLines.set(id, line);

    let content = f.token.content;
    if (content.endsWith('\n')) content = content.slice(0, -1);
    const exec = kind !== 'display';
    // Where it runs: the role named, else the first; checked against the declared roles.
    let on: string | undefined;
    if (a.on !== undefined) {
      if (this.roles === undefined) this.report(line, 'UNKNOWN_ROLE', `on=${a.on}, but the runbook declares no roles: add roles: [${a.on}, ...] to its front matter`);
      else if (!this.roles.includes(a.on)) this.report(line, 'UNKNOWN_ROLE', `on=${a.on} is not a role of this runbook (roles: ${this.roles.join(', ')})`);
      else on = a.on;
    }
    if (exec && this.roles !== undefined) on ??= this.roles[0];
    const block: Block = {
      id,
      kind,
      lang: info.lang,
      content,
      line,
      stepId,
      ...(exec && kind !== 'file' && !a.interactive && a.timeoutSec !== undefined ? { timeoutSec: a.timeoutSec } : {}),
      ...(exec && kind !== 'file' && a.expect !== undefined ? { expect: a.expect } : {}),
      ...(exec && !a.interactive && a.retries !== undefined ? { retries: a.retries, retryDelaySec: a.retryDelaySec ?? 1 } : {}),
      exit: kind === 'command' ? a.exit ?? 0 : 0,
      confirm: exec ? a.confirm ?? false : false,
      ...(exec && a.os !== undefined ? { os: a.os } : {}),
      interactive: exec && kind !== 'file' ? a.interactive ?? false : false,
      ...(exec && a.hint !== undefined ? { hint: a.hint } : {}),
      ...(kind === 'file' && a.file !== undefined ? { file: a.file } : {}),
      ...(kind === 'file' && a.mode !== undefined ? { mode: a.mode } : {}),
      ...(exec && a.requires !== undefined ? { requires: a.requires } : {}),
      ...(exec && a.approve !== undefined ? { approve: a.approve } : {}),
      ...(exec && a.approve !== undefined && a.approveTimeoutSec !== undefined ? { approveTimeoutSec: a.approveTimeoutSec } : {}),
      ...(exec && on !== undefined ? { on } : {}),
      ...((kind === 'command' || kind === 'file') && a.rollback && !a.interactive ? { rollback: true as const } : {}),
    };
    this.blocks[id] = block;
    return block;
  }

  /**
   * An `answers` block gives the interactive block right before it (same step, nothing between
   * but prose) what a headless run types at its prompts: a YAML list of {expect, send}.
   */
  private attachAnswers(answers: Block, target: Block | undefined, f: Fence): void {
    const line = answers.line;
    if (!target || !target.interactive || (target.kind !== 'command' && target.kind !== 'check')) {
      this.report(line, 'ANSWERS_INVALID', 'an answers block must come right after an interactive block (interactive=true) of the same step');
      return;
    }
    if (target.answers) {
      this.report(line, 'ANSWERS_INVALID', `block ${target.id} already has an answers block`);
      return;
    }
    let list: unknown;
    try {
      list = parseDocument(answers.content).toJS();
    } catch (e) {
      this.report(line, 'ANSWERS_INVALID', `answers are not valid YAML: ${(e as Error).message}`);
      return;
    }
    if (!Array.isArray(list) || list.length === 0) {
      this.report(line, 'ANSWERS_INVALID', 'answers must be a YAML list of {expect: REGEX, send: TEXT}');
      return;
    }
    const out: Answer[] = [];
    for (const [i, item] of list.entries()) {
      const a = item as Record<string, unknown> | null;
      const extra = a && typeof a === 'object' ? Object.keys(a).filter((k) => k !== 'expect' && k !== 'send') : [];
      if (!a || typeof a !== 'object' || typeof a.expect !== 'string' || a.expect === '' || typeof a.send !== 'string' || extra.length) {
        this.report(line, 'ANSWERS_INVALID', `answer ${i + 1} must be {expect: REGEX, send: TEXT}${extra.length ? ` (unknown ${extra.join(', ')})` : ''}`);
        return;
      }
      try {
        new RegExp(a.expect, 'm');
      } catch (e) {
        this.report(line, 'BAD_REGEX', `answer ${i + 1}: expect ${show(a.expect)} does not compile: ${(e as Error).message}`);
        return;
      }
      out.push({ expect: a.expect, send: a.send });
    }
    target.answers = out;
    const t = parseFenceInfo(f.token.info).attrs.timeout;
    const sec = typeof t === 'number' ? t : typeof t === 'string' && /^\d+(\.\d+)?$/.test(t) ? Number(t) : undefined;
    target.answersTimeoutSec = sec !== undefined && sec > 0 ? sec : DEFAULT_ANSWER_TIMEOUT_SEC;
  }

  private typeAttributes(attrs: Record<string, AttrValue>, line: number): TypedAttrs {
    const out: TypedAttrs = {};
    const bad = (message: string) => this.report(line, 'BAD_ATTRIBUTE', message);
    const asString = (k: string, v: AttrValue): string | undefined => {
      if (typeof v === 'boolean') {
        bad(`${k} needs a value, like ${k}="..."`);
        return undefined;
      }
      return String(v);
    };
    const asBool = (k: string, v: AttrValue): boolean | undefined => {
      if (v === true || v === 'true') return true;
      if (v === false || v === 'false') return false;
      bad(`${k} must be true or false (or just ${k}), not ${show(v)}`);
      return undefined;
    };
    const asList = (k: string, v: AttrValue): string[] | undefined => {
      const s = asString(k, v);
      if (s === undefined) return undefined;
      const items = s.split(',').map((x) => x.trim());
      if (items.some((x) => x === '' || /\s/.test(x))) {
        bad(`${k} must be a comma-separated list of names, like ${k}=linux,darwin; got ${show(s)}`);
        return undefined;
      }
      return items;
    };
    if ('id' in attrs && 'name' in attrs) bad('give either id or name (they are synonyms), not both');
    for (const [k, v] of Object.entries(attrs)) {
      switch (k) {
        case 'id':
        case 'name': {
          const s = asString(k, v);
          if (s === undefined) break;
          if (!ID_PATTERN.test(s)) bad(`${k} ${show(s)} is not a valid block id: use letters, digits, ".", "_" and "-", starting with a letter or digit`);
          else if (out.id === undefined) out.id = s;
          break;
        }
        case 'verify':
        case 'confirm':
        case 'interactive':
        case 'rollback': {
          const b = asBool(k, v);
          if (b !== undefined) out[k] = b;
          break;
        }
        case 'hint': {
          const s = asString(k, v);
          if (s !== undefined) out.hint = s;
          break;
        }
        case 'on': {
          const s = asString(k, v);
          if (s !== undefined) out.on = s;
          break;
        }
        case 'expect': {
          const s = asString(k, v);
          if (s === undefined) break;
          try {
            compileExpect(s);
            out.expect = s;
          } catch (e) {
            this.report(line, 'BAD_REGEX', `expect ${show(s)} does not compile: ${(e as Error).message}`);
          }
          break;
        }
        case 'exit': {
          const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
          if (Number.isInteger(n) && n >= 0 && n <= 255) out.exit = n;
          else bad(`exit must be an integer from 0 to 255, not ${show(v)}`);
          break;
        }
        case 'retries': {
          const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
          if (Number.isInteger(n) && n >= 1 && n <= 100) out.retries = n;
          else bad(`retries must be an integer from 1 to 100, not ${show(v)}`);
          break;
        }
        case 'retry-delay': {
          const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
          if (Number.isFinite(n) && n >= 0 && n <= 3600) out.retryDelaySec = n;
          else bad(`retry-delay must be a number of seconds from 0 to 3600, not ${show(v)}`);
          break;
        }
        case 'approve': {
          // approve / approve=true: one approver; approve=N: N distinct ones; approve=false: none.
          const n = v === true || v === 'true' ? 1 : v === false || v === 'false' ? 0 : typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
          if (Number.isInteger(n) && n >= 0 && n <= MAX_APPROVERS) {
            if (n > 0) out.approve = n;
          } else bad(`approve must be true, false or a number of approvers from 1 to ${MAX_APPROVERS}, not ${show(v)}`);
          break;
        }
        case 'approveTimeout': {
          const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
          if (Number.isFinite(n) && n > 0) out.approveTimeoutSec = n;
          else bad(`approveTimeout must be a positive number of seconds, not ${show(v)}`);
          break;
        }
        case 'timeout': {
          const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
          if (Number.isFinite(n) && n > 0) out.timeoutSec = n;
          else bad(`timeout must be a positive number of seconds, not ${show(v)}`);
          break;
        }
        case 'os':
        case 'requires': {
          const list = asList(k, v);
          if (list !== undefined) out[k] = k === 'os' ? list.map((x) => x.toLowerCase()) : list;
          break;
        }
        case 'file': {
          const s = asString(k, v);
          if (s === undefined) break;
          if (!s.startsWith('/') || /[\0\n]/.test(s)) bad(`file must be an absolute path, not ${show(s)}`);
          else if (/\$(?!\{[A-Za-z_][A-Za-z0-9_]*\})/.test(s)) bad(`file ${show(s)}: only \${NAME} of declared variables is substituted in a file path`);
          else out.file = s;
          break;
        }
        case 'mode': {
          const s = typeof v === 'boolean' ? undefined : String(v);
          if (s === undefined || !/^[0-7]{3,4}$/.test(s)) bad(`mode must be an octal permission like 0644, not ${show(v)}`);
          else out.mode = s.padStart(4, '0');
          break;
        }
        default:
          this.report(line, 'UNKNOWN_ATTRIBUTE', `unknown attribute ${v === true ? k : `${k}=${show(v)}`} (known: ${KNOWN_ATTRIBUTES.join(', ')})`);
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- variables

  private checkVariables(vars: VarSpec[]): void {
    // File blocks substitute only the declared vars; well-known names are written literally.
    const fileKnown = new Set<string>(WELL_KNOWN);
    for (const v of vars) fileKnown.add(v.name);
    const known = new Set<string>(fileKnown);
    const blocks = Object.values(this.blocks);
    for (const b of blocks) {
      if (b.kind === 'command' || b.kind === 'check') for (const name of assignedNames(b.content)) known.add(name);
    }
    for (const b of blocks) {
      if (b.kind === 'display') continue;
      const reported = new Set<string>();
      const use = (name: string, line: number) => {
        if (!CHECKED_VAR_NAME.test(name) || reported.has(name)) return;
        if (b.kind === 'file' ? fileKnown.has(name) : known.has(name)) return;
        reported.add(name);
        this.report(
          line,
          'VAR_UNDECLARED',
          b.kind === 'file'
            ? `file block ${b.id} uses \${${name}}, which is not declared in the front matter vars (file blocks substitute only those)`
            : `block ${b.id} uses $${name}, which is not declared in the front matter vars (nor assigned in a block)`,
        );
      };
      if (b.kind === 'file' && b.file) {
        for (const m of b.file.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) use(m[1]!, b.line);
      }
      const lines = b.content.split('\n');
      lines.forEach((text, i) => {
        const line = b.line + 1 + i;
        if (b.kind === 'file') {
          for (const m of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) use(m[1]!, line);
        } else {
          for (const m of text.matchAll(/(\\?)\$(?:\{[#!]?([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g)) {
            if (m[1] === '\\') continue;
            use((m[2] ?? m[3])!, line);
          }
        }
      });
    }
  }
}

interface TypedAttrs {
  id?: string;
  verify?: boolean;
  hint?: string;
  expect?: string;
  exit?: number;
  timeoutSec?: number;
  retries?: number;
  retryDelaySec?: number;
  confirm?: boolean;
  os?: string[];
  interactive?: boolean;
  file?: string;
  mode?: string;
  requires?: string[];
  approve?: number;
  approveTimeoutSec?: number;
  on?: string;
  rollback?: boolean;
}

/** Names a shell block assigns: NAME=, export/local/declare NAME, read NAME, for NAME in, ... */
export function assignedNames(script: string): Set<string> {
  const names = new Set<string>();
  const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
  for (const rawLine of script.split('\n')) {
    for (const m of rawLine.matchAll(/(?:^|[\s;&|(`])([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?\+?=/g)) names.add(m[1]!);
    for (const m of rawLine.matchAll(/\b(?:for|select)\s+([A-Za-z_][A-Za-z0-9_]*)\b/g)) names.add(m[1]!);
    for (const m of rawLine.matchAll(/\bgetopts\s+\S+\s+([A-Za-z_][A-Za-z0-9_]*)\b/g)) names.add(m[1]!);
    const unquoted = rawLine.replace(/"(?:[^"\\]|\\.)*"|'[^']*'/g, '""');
    for (const m of unquoted.matchAll(/\b(export|local|declare|typeset|readonly|read|mapfile|readarray)\b([^;&|<>()`]*)/g)) {
      for (const word of m[2]!.trim().split(/\s+/)) {
        const name = word.split('=')[0]!;
        if (NAME.test(name)) names.add(name);
      }
    }
  }
  return names;
}

function uniqueId(base: string, taken: (candidate: string) => boolean): string {
  for (let n = 2; ; n++) {
    const candidate = `${base}-${n}`;
    if (!taken(candidate)) return candidate;
  }
}

function trimBlankLines(lines: string[]): string {
  let start = 0;
  let end = lines.length;
  while (start < end && lines[start]!.trim() === '') start++;
  while (end > start && lines[end - 1]!.trim() === '') end--;
  return lines.slice(start, end).join('\n');
}

/** Plain text of a heading's inline token (markup dropped, code spans kept). */
function inlineText(inline: Token | undefined): string {
  if (!inline) return '';
  if (!inline.children) return inline.content.trim();
  let out = '';
  for (const c of inline.children) {
    if (c.type === 'text' || c.type === 'text_special' || c.type === 'code_inline' || c.type === 'image') out += c.content;
    else if (c.type === 'softbreak' || c.type === 'hardbreak') out += ' ';
  }
  return out.replace(/\s+/g, ' ').trim();
}

/** A YAML scalar as text: strings as parsed, other plain scalars (2.10, 08, true) as written. */
function scalarText(node: unknown, yamlText: string): string | undefined {
  if (!isScalar(node)) return undefined;
  const s = node as Scalar;
  if (s.value === null || s.value === undefined) return undefined;
  if (typeof s.value === 'string') return s.value;
  if (s.range) return yamlText.slice(s.range[0], s.range[1]).trim();
  return String(s.value);
}

function stringList(node: unknown, yamlText: string): string[] | undefined {
  if (isScalar(node)) {
    const s = scalarText(node, yamlText);
    if (s === undefined) return undefined;
    return s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  }
  if (isSeq(node)) {
    const out: string[] = [];
    for (const item of node.items) {
      const s = scalarText(item, yamlText);
      if (s === undefined || s.trim() === '') return undefined;
      out.push(s.trim());
    }
    return out;
  }
  return undefined;
}
