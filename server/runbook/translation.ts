// Translations (pure): a runbook's prose in another language, checked against its source so
// the two cannot drift apart in what they run.
//
// A translation is `NAME.<lang>.md` beside `NAME.md`, with front matter `lang: <lang>`. It must
// have the source's steps (same ids, same order) and the source's executable blocks (same ids,
// same order, byte-identical content, identical attributes, `on=` included). Titles, prose, the runbook's title
// and summary, variable `describe`/`pattern_message`, block `hint`s and display-only blocks may
// differ. See docs/format.md, "Translations".

import { diagnostic, type Code, type Diagnostic } from '../errors.ts';
import type { Block, Runbook, Step } from './model.ts';
import { LANG_PATTERN } from './parse.ts';

/** The language a runbook without `lang:` is written in. */
export const DEFAULT_LANG = 'en';

/** `net/bridge.ko.md` → { base: 'net/bridge.md', lang: 'ko' }; undefined for a file that is not named like a translation. */
export function translationName(file: string): { base: string; lang: string } | undefined {
  const m = /^(.*[^/])\.([A-Za-z0-9-]+)\.md$/i.exec(file);
  if (!m || !LANG_PATTERN.test(m[2]!)) return undefined;
  return { base: `${m[1]}.md`, lang: m[2]! };
}

/** The language a runbook's prose is in. */
export function runbookLang(rb: Runbook): string {
  return rb.lang ?? DEFAULT_LANG;
}

/**
 * Every way `translation` (written in `lang`, per its file name) departs from `source` in what
 * it runs, as diagnostics located in the translation's file. No error means the translation runs
 * exactly the source's commands; TRANSLATION_UNTRANSLATED is a warning.
 */
export function checkTranslation(source: Runbook, translation: Runbook, lang: string, frontMatterLines: ReadonlyMap<string, number> = new Map()): Diagnostic[] {
  const out: Diagnostic[] = [];
  const file = translation.file;
  const report = (line: number, code: Code, message: string) => out.push(diagnostic(file, line, code, message));
  const fmLine = (key: string) => frontMatterLines.get(key) ?? 1;

  // --- front matter
  if (translation.lang === undefined) {
    report(1, 'TRANSLATION_LANG', `translation of ${source.file} has no lang in its front matter; add lang: ${lang}`);
  } else if (translation.lang !== lang) {
    report(fmLine('lang'), 'TRANSLATION_LANG', `front matter says lang: ${translation.lang}, but the file name says ${lang}`);
  }
  if (runbookLang(source) === lang) {
    report(fmLine('lang'), 'TRANSLATION_LANG', `${source.file} is already written in ${lang}`);
  }
  if (translation.id !== source.id) {
    report(fmLine('id'), 'TRANSLATION_FIELD', `id is ${JSON.stringify(translation.id)}, the source's is ${JSON.stringify(source.id)} (leave id out of a translation or copy it)`);
  }
  const sameList = (a: readonly string[] | undefined, b: readonly string[] | undefined) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  if (translation.section !== source.section) report(fmLine('section'), 'TRANSLATION_FIELD', `section is ${JSON.stringify(translation.section ?? null)}, the source's is ${JSON.stringify(source.section ?? null)}`);
  if (!sameList(translation.os, source.os)) report(fmLine('os'), 'TRANSLATION_FIELD', `os differs from the source's (${(source.os ?? []).join(', ') || 'none'})`);
  if (!sameList(translation.requires, source.requires)) report(fmLine('requires'), 'TRANSLATION_FIELD', `requires differs from the source's (${source.requires.join(', ') || 'none'})`);
  // Where each command runs is behaviour: the roles, like each block's on=, stay as in the source.
  if (!sameList(translation.roles, source.roles)) report(fmLine('roles'), 'TRANSLATION_FIELD', `roles differ from the source's (${(source.roles ?? []).join(', ') || 'none'})`);
  const tVars = new Map(translation.vars.map((v) => [v.name, v]));
  for (const v of source.vars) {
    const t = tVars.get(v.name);
    if (!t) {
      report(fmLine('vars'), 'TRANSLATION_FIELD', `variable ${v.name} of the source is not declared`);
      continue;
    }
    // What a variable accepts and starts as is behaviour; its description is prose.
    const differs = (['default', 'pattern', 'secret'] as const).filter((k) => t[k] !== v[k]);
    if (differs.length) report(t.line, 'TRANSLATION_FIELD', `variable ${v.name}: ${differs.join(', ')} differ${differs.length === 1 ? 's' : ''} from the source's`);
  }
  const sourceVars = new Set(source.vars.map((v) => v.name));
  for (const t of translation.vars) {
    if (!sourceVars.has(t.name)) report(t.line, 'TRANSLATION_FIELD', `variable ${t.name} is not declared by the source`);
  }
  if (translation.vars.map((v) => v.name).join() !== source.vars.map((v) => v.name).join() && translation.vars.every((v) => sourceVars.has(v.name)) && source.vars.every((v) => tVars.has(v.name))) {
    report(fmLine('vars'), 'TRANSLATION_FIELD', `variables are declared in another order than in the source (${source.vars.map((v) => v.name).join(', ')})`);
  }

  // --- steps: same ids in the same order
  const tSteps = new Map(translation.steps.map((s) => [s.id, s]));
  const sSteps = new Map(source.steps.map((s) => [s.id, s]));
  let missingLine = translation.steps[0]?.line ?? 1;
  for (const s of source.steps) {
    const t = tSteps.get(s.id);
    if (t) {
      missingLine = t.line;
      continue;
    }
    report(missingLine, 'TRANSLATION_MISSING_STEP', `step ${s.id} (${source.file}:${s.line}) is missing; a translated heading keeps the source's id with {#${s.id}}`);
  }
  for (const t of translation.steps) {
    if (!sSteps.has(t.id)) report(t.line, 'TRANSLATION_EXTRA_STEP', `step ${t.id} is not a step of ${source.file}; give a translated heading the source's step id with {#id}`);
  }
  const common = source.steps.filter((s) => tSteps.has(s.id)).map((s) => s.id);
  const tCommon = translation.steps.filter((t) => sSteps.has(t.id)).map((t) => t.id);
  common.forEach((id, i) => {
    if (tCommon[i] !== id) {
      const t = tSteps.get(tCommon[i]!)!;
      report(t.line, 'TRANSLATION_ORDER', `step ${t.id} is step ${i + 1} of those shared with the source, where ${source.file} has ${id}`);
    }
  });

  // --- blocks of each shared step
  for (const s of source.steps) {
    const t = tSteps.get(s.id);
    if (!t) continue;
    checkStepBlocks(source, s, translation, t, report);
    if (stepText(source, s) === stepText(translation, t)) {
      report(t.line, 'TRANSLATION_UNTRANSLATED', `step ${t.id} reads exactly as in ${source.file}: its title and prose are not translated`);
    }
  }
  return out.sort((a, b) => a.line - b.line);
}

type Report = (line: number, code: Code, message: string) => void;

function checkStepBlocks(source: Runbook, s: Step, translation: Runbook, t: Step, report: Report): void {
  const sIds = [...s.commands, ...s.checks, ...(s.rollback ?? [])];
  const tIds = [...t.commands, ...t.checks, ...(t.rollback ?? [])];
  const tSet = new Set(tIds);
  const sSet = new Set(sIds);
  for (const id of sIds) {
    if (tSet.has(id)) continue;
    const b = source.blocks[id]!;
    // The usual cause: an added or removed display block shifts the derived ids (<step>-<n>).
    report(t.line, 'TRANSLATION_MISSING_BLOCK', `step ${t.id} lacks the ${b.kind} block ${id} (${source.file}:${b.line}); keep display blocks as in the source or give executable blocks explicit ids`);
  }
  for (const id of tIds) {
    if (sSet.has(id)) continue;
    const b = translation.blocks[id]!;
    report(b.line, 'TRANSLATION_EXTRA_BLOCK', `${b.kind} block ${id} is not an executable block of step ${s.id} in ${source.file}`);
  }
  // With other ids, pairing by id would compare unrelated blocks: the missing and extra ids say enough.
  if (sIds.some((id) => !tSet.has(id)) || tIds.some((id) => !sSet.has(id))) return;
  if (sIds.join('\n') !== tIds.join('\n')) {
    report(t.line, 'TRANSLATION_ORDER', `step ${t.id} runs its blocks in another order than ${source.file} (${sIds.join(', ')})`);
  }
  for (const id of sIds) {
    const sb = source.blocks[id]!;
    const tb = translation.blocks[id]!;
    if (tb.content !== sb.content) {
      report(tb.line + 1 + firstDifferentLine(sb.content, tb.content), 'TRANSLATION_BLOCK_DIFFERS', `${tb.kind} block ${id} differs from ${source.file}:${sb.line}: a translation runs the source's commands byte for byte (comments too)`);
    }
    const attrs = differentAttributes(sb, tb);
    if (attrs.length) {
      report(tb.line, 'TRANSLATION_ATTRIBUTE_DIFFERS', `block ${id}: ${attrs.map((a) => `${a} ${show(attrOf(tb, a))} (source: ${show(attrOf(sb, a))})`).join('; ')}`);
    }
  }
}

/** What may differ between a block and its translation: where it is, and its hint (prose). */
const TRANSLATABLE_BLOCK_FIELDS = new Set<keyof Block>(['content', 'line', 'hint']);

function differentAttributes(a: Block, b: Block): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)] as Array<keyof Block>);
  return [...keys].filter((k) => !TRANSLATABLE_BLOCK_FIELDS.has(k) && JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

function attrOf(b: Block, k: string): unknown {
  return (b as unknown as Record<string, unknown>)[k];
}

function show(v: unknown): string {
  return v === undefined ? 'unset' : JSON.stringify(v);
}

/** 0-based index of the first line where two texts differ. */
function firstDifferentLine(a: string, b: string): number {
  const x = a.split('\n');
  const y = b.split('\n');
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return Math.min(i, Math.max(y.length - 1, 0));
}

/** A step's words: its title and prose, with the text of its display blocks. */
function stepText(rb: Runbook, s: Step): string {
  const parts = s.parts.map((p) => (p.kind === 'prose' ? p.markdown : rb.blocks[p.blockId]?.kind === 'display' ? rb.blocks[p.blockId]!.content : ''));
  return [s.title, ...parts].join('\n');
}
