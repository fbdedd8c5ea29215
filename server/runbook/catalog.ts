// The runbook catalog: the fs edge around the pure parser.
//
// loadCatalog(dir) reads every `*.md` under dir (recursively), parses each and adds the
// catalog-level diagnostics (DUPLICATE_RUNBOOK_ID, UNKNOWN_REQUIRES). It never throws:
// unreadable files and folders become READ_FAILED entries.
//
// A file named like a translation, `NAME.<lang>.md` (translation.ts), is not a runbook of its
// own: it is parsed with its source's id, checked against `NAME.md` in the same folder and listed
// under that entry's translations (or in `translations` with TRANSLATION_NO_SOURCE).
//
// Skipped: files and folders whose name starts with `_` or `.`, files named README.md
// (any case), and anything that is not a regular file or folder.
//
// cachedCatalog(dir) is what the server uses: the same catalog, parsed again only after a
// file under dir changed.

import { readdirSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { CODES, diagnostic, type Diagnostic } from '../errors.ts';
import type { Runbook } from './model.ts';
import { parseRunbook } from './parse.ts';
import { checkTranslation, translationName } from './translation.ts';

export interface CatalogEntry {
  id: string;
  /** Path relative to the catalog folder, with `/` separators. */
  file: string;
  runbook?: Runbook;
  diagnostics: Diagnostic[];
  /** No error-severity diagnostics (warnings allowed). */
  ok: boolean;
  /** The runbook in other languages, by file name. */
  translations: TranslationEntry[];
}

export interface TranslationEntry {
  /** The language code of the file name (`ko` for `NAME.ko.md`). */
  lang: string;
  /** Path relative to the catalog folder, with `/` separators. */
  file: string;
  /** The source's file (`NAME.md`), whether or not it exists. */
  sourceFile: string;
  /** The source's id when the source exists. */
  sourceId?: string;
  runbook?: Runbook;
  /** The translation's own parse diagnostics and those of the check against its source. */
  diagnostics: Diagnostic[];
  /** Runnable: no error-severity diagnostics and a runnable source. */
  ok: boolean;
}

export interface Catalog {
  dir: string;
  /** Sorted by section (numeric-aware: 2.9 before 2.10; entries without a section last), then id. */
  entries: CatalogEntry[];
  /** Every translation file, paired or not (a paired one is also in its entry's translations). */
  translations: TranslationEntry[];
  get(id: string): CatalogEntry | undefined;
}

export function loadCatalog(dir: string): Catalog {
  const entries: CatalogEntry[] = [];
  const keyLines = new Map<CatalogEntry, Map<string, number>>();
  const pending: Array<{ rel: string; source: string; lang: string; base: string }> = [];

  const readFailed = (rel: string, id: string, what: string, e: unknown): void => {
    const reason = e instanceof Error ? ((e as NodeJS.ErrnoException).code ?? e.message) : String(e);
    const d = diagnostic(rel, 1, 'READ_FAILED', `cannot read ${what}: ${reason}`);
    entries.push({ id, file: rel, diagnostics: [d], ok: false, translations: [] });
  };

  walkRunbookFolder(dir, {
    folderFailed: (rel, e) => readFailed(rel || '.', rel || '.', 'folder', e),
    fileFailed: (rel, name, e) => readFailed(rel, idOf(name), 'file', e),
    file: (abs, rel, name, st) => {
      if (!st.isFile()) return;
      let source: string;
      try {
        source = readFileSync(abs, 'utf8');
      } catch (e) {
        readFailed(rel, idOf(name), 'file', e);
        return;
      }
      const named = translationName(rel);
      if (named) {
        pending.push({ rel, source, ...named });
        return;
      }
      const result = parseRunbook(source, rel);
      const entry: CatalogEntry = {
        id: result.runbook?.id ?? idOf(name),
        file: rel,
        ...(result.runbook ? { runbook: result.runbook } : {}),
        diagnostics: result.diagnostics,
        ok: true,
        translations: [],
      };
      entries.push(entry);
      keyLines.set(entry, frontMatterKeyLines(source));
    },
  });

  // Catalog-level checks.
  const byId = new Map<string, CatalogEntry[]>();
  for (const e of entries) byId.set(e.id, [...(byId.get(e.id) ?? []), e]);
  for (const [id, group] of byId) {
    if (group.length < 2) continue;
    for (const e of group) {
      const others = group.filter((o) => o !== e).map((o) => o.file).join(', ');
      e.diagnostics.push(diagnostic(e.file, keyLines.get(e)?.get('id') ?? 1, 'DUPLICATE_RUNBOOK_ID', `runbook id ${JSON.stringify(id)} is also used by ${others}`));
    }
  }
  for (const e of entries) {
    for (const req of e.runbook?.requires ?? []) {
      if (!byId.has(req)) {
        e.diagnostics.push(diagnostic(e.file, keyLines.get(e)?.get('requires') ?? 1, 'UNKNOWN_REQUIRES', `requires ${JSON.stringify(req)}, but no runbook has that id`));
      }
    }
  }
  for (const e of entries) {
    e.diagnostics.sort((a, b) => a.line - b.line);
    e.ok = !e.diagnostics.some((d) => CODES[d.code].severity === 'error');
  }

  const translations: TranslationEntry[] = pending.map(({ rel, source, lang, base }) => {
    const src = entries.find((e) => e.file === base);
    const result = parseRunbook(source, rel, src ? { id: src.id } : {});
    const diagnostics = [...result.diagnostics];
    if (!src) diagnostics.push(diagnostic(rel, 1, 'TRANSLATION_NO_SOURCE', `${rel} is named as a ${lang} translation, but there is no ${base} beside it`));
    else if (src.runbook && result.runbook) diagnostics.push(...checkTranslation(src.runbook, result.runbook, lang, frontMatterKeyLines(source)));
    diagnostics.sort((a, b) => a.line - b.line);
    const t: TranslationEntry = {
      lang,
      file: rel,
      sourceFile: base,
      ...(src ? { sourceId: src.id } : {}),
      ...(result.runbook ? { runbook: result.runbook } : {}),
      diagnostics,
      ok: !!src?.ok && !!result.runbook && !diagnostics.some((d) => CODES[d.code].severity === 'error'),
    };
    src?.translations.push(t);
    return t;
  });

  entries.sort((a, b) => compareSection(a.runbook?.section, b.runbook?.section) || compareText(a.id, b.id) || compareText(a.file, b.file));
  return {
    dir,
    entries,
    translations,
    get: (id: string) => entries.find((e) => e.id === id),
  };
}

/**
 * loadCatalog(dir) that parses again only when something under dir changed. Each call checks
 * by stat alone (names, sizes, modification times; no reads, no parsing: well under a
 * millisecond for the shipped runbooks, against tens of milliseconds for a parse), so an edit
 * shows on the very next call, with no watcher to miss events or to dispose.
 */
export function cachedCatalog(dir: string): () => Catalog {
  let seen: string | undefined;
  let catalog: Catalog | undefined;
  return () => {
    // Taken before loading: a file changed during the load changes the next fingerprint too.
    const now = catalogFingerprint(dir);
    if (now !== seen || !catalog) {
      catalog = loadCatalog(dir);
      seen = now;
    }
    return catalog;
  };
}

/** What loadCatalog would read under dir, by name, size and modification time (same skip rules). */
export function catalogFingerprint(dir: string): string {
  const parts: string[] = [];
  const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? 'error';
  walkRunbookFolder(dir, {
    folderFailed: (rel, e) => parts.push(`${rel}/!${code(e)}`),
    fileFailed: (rel, _name, e) => parts.push(`${rel}:!${code(e)}`),
    file: (_abs, rel, _name, st) => parts.push(`${rel}:${st.isFile() ? 'f' : 'o'}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}`),
  });
  return parts.join('\n');
}

interface FolderVisitor {
  folderFailed(rel: string, e: unknown): void;
  fileFailed(rel: string, name: string, e: unknown): void;
  /** A runbook-named file (`*.md`, not README.md), whatever its type. */
  file(abs: string, rel: string, name: string, st: Stats): void;
}

/**
 * The files the catalog reads under dir, in name order: every `*.md` but README.md, skipping
 * names that start with `_` or `.`, following folder symlinks once (a loop is not walked twice).
 */
function walkRunbookFolder(dir: string, visit: FolderVisitor): void {
  const seenDirs = new Set<string>();
  const walk = (abs: string, rel: string): void => {
    let names: string[];
    try {
      const real = realpathSync(abs);
      if (seenDirs.has(real)) return; // symlink loop
      seenDirs.add(real);
      names = readdirSync(abs).sort();
    } catch (e) {
      visit.folderFailed(rel, e);
      return;
    }
    for (const name of names) {
      if (name.startsWith('_') || name.startsWith('.')) continue;
      const childAbs = join(abs, name);
      const childRel = rel ? `${rel}/${name}` : name;
      const isMd = /\.md$/i.test(name) && name.toLowerCase() !== 'readme.md';
      let st: Stats;
      try {
        st = statSync(childAbs);
      } catch (e) {
        if (isMd) visit.fileFailed(childRel, name, e);
        continue;
      }
      if (st.isDirectory()) walk(childAbs, childRel);
      else if (isMd) visit.file(childAbs, childRel, name, st);
    }
  };
  walk(dir, '');
}

function idOf(name: string): string {
  return name.replace(/\.md$/i, '');
}

/** Lines (1-based) of the top-level keys of a file's front matter, for catalog diagnostics. */
function frontMatterKeyLines(source: string): Map<string, number> {
  const out = new Map<string, number>();
  const lines = source.replace(/^\uFEFF/, '').split(/\r\n?|\n/);
  if (!/^---[ \t]*$/.test(lines[0] ?? '')) return out;
  for (let l = 1; l < lines.length; l++) {
    const line = lines[l]!;
    if (/^(---|\.\.\.)[ \t]*$/.test(line)) break;
    const m = /^([A-Za-z_][\w-]*)\s*:/.exec(line);
    if (m && !out.has(m[1]!)) out.set(m[1]!, l + 1);
  }
  return out;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Numeric-aware comparison of section labels ("2.9" < "2.10" < "10"); missing sections sort last. */
export function compareSection(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  const ca = a.match(/\d+|\D+/g) ?? [];
  const cb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const x = ca[i]!;
    const y = cb[i]!;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
    } else if (dx !== dy) {
      return dx ? -1 : 1;
    }
    const t = compareText(x, y);
    if (t !== 0) return t;
  }
  return ca.length - cb.length;
}
