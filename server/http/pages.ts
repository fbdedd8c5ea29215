// HTML pages: runbook index, runbook overview, run redirect and step pages.
// Views get plain view models built here; every value goes through handlebars escaping
// (the markdown helper is the only raw HTML, and markdown-it runs with html:false).
// Page scripts read their data from <script type="application/json" id="page-data">.
import { rollbackPanel } from './rollback-view.ts';
import { hintsPanel } from './hints-view.ts';
import express, { type Response, type Router } from 'express';
import type { AppContext } from './context.ts';
import type { Views } from './render.ts';
import { formatDiagnostic, httpStatus } from '../errors.ts';
import { isRunId } from '../record/ids.ts';
import type { RunRecord, StoredBlockResult, StoredStepVerdict } from '../record/store.ts';
import type { Block, Runbook, Step } from '../runbook/model.ts';
import type { BlockStatus, StepStatus } from '../../common/result.ts';
import { formatDuration, isDone, progressText, resultMeta, splitHint, verdictTitle } from '../../common/format.ts';
import { EN, isLang, translator, type Lang, type Translator } from '../../common/i18n/index.ts';
import { pageLanguage } from './language.ts';
import { DEFAULT_LANG, runbookLang } from '../runbook/translation.ts';
import { parseRunbook } from '../runbook/parse.ts';
import { loadSnapshot } from '../record/snapshot.ts';
import type { OverviewPageData, StepPageData } from '../../common/page-data.ts';
import { RUN_STATUSES, runFilter } from './api.ts';
import { Approvals } from '../run/approvals.ts';
import { RunHistory, doneInChain } from '../run/history.ts';
import { RESUMABLE, reportHref, reportView } from './report-view.ts';
import { fleetChoices } from './live-matrices.ts';

/** How many runs the index lists. */
const RECENT_RUNS = 25;
/** How many earlier runs the overview lists for its runbook. */
const RUNBOOK_RUNS = 8;
/** How many runs the runs page lists (newest first). */
const LIST_RUNS = 200;
/** How many fleets the runs page links above its table (the latest; each is a page of its own). */
const RECENT_FLEETS = 5;

export interface Crumb {
  label: string;
  href?: string;
}

export function runbookHref(id: string): string {
  return `/runbooks/${encodeURIComponent(id)}`;
}

export function stepHref(runId: string, stepId: string): string {
  return `/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(stepId)}`;
}

export function pagesRouter(ctx: AppContext, views: Views): Router {
  const r = express.Router({ caseSensitive: true, strict: true }); // one resource, one URL
  r.use(pageLanguage);
  /** The page's translator (pageLanguage set res.locals.lang). */
  const trOf = (res: Response): Translator => (isLang(res.locals.lang) ? translator(res.locals.lang) : EN);
  // Recorded runs are read through one RunHistory per request (never the store directly).
  const history = () => new RunHistory(ctx.store, ctx.catalog);

  const notFound = (res: Response, heading: string, message: string) =>
    res.status(httpStatus('NOT_FOUND')).type('html').send(views.render('not-found', { title: heading, heading, message }, res.locals));

  r.get('/', (_req, res) => {
    const tr = trOf(res);
    const catalog = ctx.catalog();
    const runbooks = catalog.entries.map((e) => {
      // Titles and summaries in the page's language where a runnable translation has them.
      const shown = (e.runbook && e.translations.find((t) => t.lang === tr.lang && t.ok)?.runbook) || e.runbook;
      return {
      id: e.id,
      ok: e.ok,
      href: runbookHref(e.id),
      file: e.file,
      title: shown?.title ?? e.id,
      summary: shown?.summary ?? '',
      contentLang: shown ? runbookLang(shown) : DEFAULT_LANG,
      section: e.runbook?.section ?? null,
      stepCount: e.runbook?.steps.length ?? 0,
      diagnostics: e.diagnostics.map((d) => ({ text: formatDiagnostic(d), severity: d.severity })),
      errorCount: e.diagnostics.filter((d) => d.severity === 'error').length,
      warningCount: e.diagnostics.filter((d) => d.severity === 'warning').length,
      };
    });
    const runs = history().list({ limit: RECENT_RUNS }).map((run) => runRow(ctx, run, tr));
    res.type('html').send(
      views.render('index', {
        title: tr.t('index.title'),
        runbooks,
        okCount: runbooks.filter((x) => x.ok).length,
        brokenCount: runbooks.filter((x) => !x.ok).length,
        runs,
      }, res.locals),
    );
  });

  r.get('/runbooks/:id', (req, res) => {
    const tr = trOf(res);
    const e = ctx.catalog().get(req.params.id);
    if (!e) return notFound(res, tr.t('overview.notFound'), tr.t('overview.notFoundText', { id: req.params.id }));
    // The runbook in the page's language when a runnable translation exists (a run started
    // here is read in it, pinning both files), else the source.
    const translated = e.runbook ? e.translations.find((t) => t.lang === tr.lang && t.ok && t.runbook) : undefined;
    const rb = translated?.runbook ?? e.runbook;
    const sourceLang = e.runbook ? runbookLang(e.runbook) : DEFAULT_LANG;
    const runbookLangs = e.runbook && e.translations.some((t) => t.ok)
      ? [sourceLang, ...e.translations.filter((t) => t.ok).map((t) => t.lang)]
          .filter(isLang)
          .map((l) => ({ lang: l, label: translator(l).t(`lang.${l}`), href: `${runbookHref(e.id)}?lang=${l}`, current: l === (translated?.lang ?? sourceLang) }))
      : [];
    const pageData: OverviewPageData = {
      runbook: e.id,
      lang: tr.lang,
      ...(translated && rb ? { runLang: translated.lang, stepTitles: Object.fromEntries(rb.steps.map((s) => [s.id, s.title])) } : {}),
      secrets: (rb?.vars ?? []).filter((v) => v.secret).map((v) => v.name),
    };
    res.type('html').send(
      views.render('overview', {
        title: rb?.title ?? e.id,
        crumbs: [{ label: tr.t('nav.runbooks'), href: '/' }, { label: rb?.title ?? e.id }] satisfies Crumb[],
        runbookLangs,
        contentLang: translated?.lang ?? sourceLang,
        id: e.id,
        ok: e.ok && !!rb,
        file: e.file,
        section: rb?.section ?? null,
        summary: rb?.summary ?? '',
        intro: rb?.intro ?? '',
        steps: (rb?.steps ?? []).map((s, i) => ({
          index: i + 1,
          title: s.title,
          commandCount: s.commands.length,
          checkCount: s.checks.length,
          counts: countsText(s, tr),
        })),
        stepCount: rb?.steps.length ?? 0,
        vars: (rb?.vars ?? []).map((v) => ({
          name: v.name,
          describe: v.describe,
          // A secret's default is not put into the page: left empty, the run uses it.
          value: v.secret ? '' : v.default,
          hasDefault: v.default !== '',
          pattern: v.pattern ?? null,
          patternMessage: v.patternMessage ?? null,
          secret: v.secret,
        })),
        targets: ctx.targetIds,
        // A runbook that spans hosts: a target picker per role (static/overview.ts).
        roles: rb?.roles && rb.roles.length > 1 ? rb.roles.map((role) => ({ role, targets: ctx.targetIds })) : null,
        // The fleet fields (live-pages.ts): the inventory's @all, @groups and label= selectors.
        fleetChoices: fleetChoices(ctx.fleets.deps.inventory()),
        errors: e.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic),
        warnings: e.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic),
        runs: history().list({ runbookId: e.id, limit: RUNBOOK_RUNS }).map((run) => runRow(ctx, run, tr)),
        pageData,
      }, res.locals),
    );
  });

  r.get('/runs', (req, res) => {
    const tr = trOf(res);
    const q = req.query;
    const str = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
    const form = { runbook: str(q.runbook), user: str(q.user), target: str(q.target), status: str(q.status), from: str(q.from), to: str(q.to) };
    const dateOk = (d: string) => d === '' || /^\d{4}-\d{2}-\d{2}$/.test(d);
    const checked = dateOk(form.from) && dateOk(form.to)
      ? runFilter({ runbook: form.runbook, user: form.user, target: form.target, status: form.status, since: form.from, until: form.to })
      : ({ ok: false, error: { code: 'BAD_REQUEST', message: '', field: dateOk(form.from) ? 'until' : 'since' } } as const);
    // The form names the dates from/to (the API: since/until).
    const field = checked.ok ? '' : checked.error.field === 'since' ? 'from' : checked.error.field === 'until' ? 'to' : checked.error.field ?? '';
    const filter = checked.ok
      ? checked
      : { ok: false as const, error: { field, message: field === 'from' || field === 'to' ? tr.t('runs.badDate', { field: tr.t(field === 'from' ? 'runs.from' : 'runs.to') }) : checked.error.message } };
    const runs = filter.ok ? history().list({ ...filter.filter, limit: LIST_RUNS + 1 }) : [];
    const filtered = Object.values(form).some((v) => v !== '');
    const catalog = ctx.catalog();
    const runbookOptions = catalog.entries.map((e) => ({ id: e.id, title: e.runbook?.title ?? e.id, selected: e.id === form.runbook }));
    if (form.runbook && !runbookOptions.some((o) => o.selected)) runbookOptions.push({ id: form.runbook, title: form.runbook, selected: true });
    const targets = [...new Set([...ctx.targetIds, ...(form.target ? [form.target] : [])])].map((t) => ({ id: t, selected: t === form.target }));
    res.status(filter.ok ? 200 : httpStatus('BAD_REQUEST')).type('html').send(
      views.render('runs', {
        title: tr.t('runs.title'),
        crumbs: [{ label: tr.t('nav.runbooks'), href: '/' }, { label: tr.t('runs.title') }] satisfies Crumb[],
        form,
        runbookOptions,
        targets,
        statuses: RUN_STATUSES.map((st) => ({ id: st, selected: st === form.status })),
        error: filter.ok ? null : filter.error,
        runs: runs.slice(0, LIST_RUNS).map((run) => runRow(ctx, run, tr)),
        // The latest fleets (each host's run is in the list too), linked to their pages (live-pages.ts).
        fleets: filtered ? [] : ctx.fleets.list(RECENT_FLEETS).map((f) => ({ id: f.id, href: `/fleets/${encodeURIComponent(f.id)}`, status: f.status, target: f.target, runbook: f.runbook, hosts: f.hosts.length, started: formatTime(f.startedAt, tr), startedAt: f.startedAt })),
        truncated: runs.length > LIST_RUNS,
        limit: LIST_RUNS,
        count: Math.min(runs.length, LIST_RUNS),
        filtered,
      }, res.locals),
    );
  });

  // Pending four-eyes approvals, each with Approve / Reject (static/approvals-page.ts).
  r.get('/approvals', (_req, res) => {
    const h = history();
    const approvals = new Approvals(ctx.store).pending().map((a) => {
      const run = h.get(a.runId);
      const block = run ? h.runbookAsRun(run)?.blocks[a.blockId] : undefined;
      return {
        ...a,
        approved: a.decisions.filter((d) => d.decision === 'approve').length,
        command: block?.content ?? null,
        stepHref: stepHref(a.runId, a.stepId),
      };
    });
    res.type('html').send(
      views.render('approvals', {
        title: 'Approvals',
        crumbs: [{ label: 'Runbooks', href: '/' }, { label: 'Approvals' }] satisfies Crumb[],
        approvals,
      }, res.locals),
    );
  });

  r.get('/runs/:id', (req, res) => {
    const h = history();
    const tr = trOf(res);
    const found = findRun(ctx, h, req.params.id);
    if (!found) return notFound(res, tr.t('run.notFound'), tr.t('run.notFoundText', { id: req.params.id }));
    if (!found.runbook) return notFound(res, tr.t('run.noRunbook'), runbookMissing(found.record, tr));
    const steps = found.runbook.steps;
    if (!steps.length) return notFound(res, tr.t('run.nothing'), tr.t('run.noSteps', { title: found.runbook.title }));
    // A resumed run starts at its resume step; steps its predecessors got through count as done.
    const verdicts = h.chainVerdicts(found.record);
    const resumeAt = ctx.runs.get(found.record.id)?.resumedFrom?.stepId;
    const from = Math.max(0, resumeAt ? steps.findIndex((s) => s.id === resumeAt) : 0);
    const next = steps.slice(from).find((s) => !doneInChain(verdicts.get(s.id))) ?? steps[steps.length - 1]!;
    res.redirect(303, stepHref(found.record.id, next.id));
  });

  r.get('/runs/:id/report', (req, res) => {
    const h = history();
    const tr = trOf(res);
    const found = findRun(ctx, h, req.params.id);
    if (!found) return notFound(res, tr.t('run.notFound'), tr.t('run.notFoundText', { id: req.params.id }));
    const { record, live } = found;
    ctx.runs.get(record.id)?.flushRecording();
    const built = h.report(record.id);
    if (!built.ok) return notFound(res, tr.t('run.notFound'), built.error.message);
    const resumed = ctx.runs.get(record.id)?.resumedFrom;
    const readAs = found.runbook && found.runbook !== found.ran ? found.runbook : undefined;
    const view = reportView({ history: h, record, report: built.value, live, resumeNotes: resumed?.notes, resumedAt: resumed?.stepId, tr, readAs });
    // A failed run's Roll back, or how it was rolled back (rollback-view.ts).
    const rollback = rollbackPanel(h, record, found.runbook, live, tr);
    if (rollback) view.pageData.rollback = rollback.data;
    const title = view.run.title;
    res.type('html').send(
      views.render('report', {
        title: tr.t('report.title', { title }),
        contentLang: found.runbook ? runbookLang(found.runbook) : tr.lang,
        crumbs: [
          { label: tr.t('nav.runbooks'), href: '/' },
          ...(view.run.runbookHref ? [{ label: title, href: view.run.runbookHref }] : []),
          { label: tr.t('nav.runs'), href: '/runs' },
          { label: tr.t('step.crumbRun', { id: record.id }) },
        ] satisfies Crumb[],
        ...view,
        rollback: rollback?.view ?? null,
      }, res.locals),
    );
  });

  r.get('/runs/:id/steps/:stepId', (req, res) => {
    const h = history();
    const tr = trOf(res);
    const found = findRun(ctx, h, req.params.id);
    if (!found) return notFound(res, tr.t('run.notFound'), tr.t('run.notFoundText', { id: req.params.id }));
    const { record, runbook, live } = found;
    if (!runbook) return notFound(res, tr.t('run.noRunbook'), runbookMissing(record, tr));
    const index = runbook.steps.findIndex((s) => s.id === req.params.stepId);
    if (index < 0) return notFound(res, tr.t('step.notFound'), tr.t('step.notFoundText', { title: runbook.title, step: req.params.stepId }));
    const step = runbook.steps[index]!;
    const training = record.options.training === true;
    const verdicts = verdictMap(h.verdicts(record.id));
    const latest = h.latestBlocks(record.id);

    const steps = runbook.steps.map((s, i) => {
      const status: StepStatus | 'pending' = verdicts.get(s.id)?.status ?? 'pending';
      return { id: s.id, title: s.title, number: i + 1, href: stepHref(record.id, s.id), status, current: s.id === step.id };
    });
    const doneCount = steps.filter((s) => isDone(s.status)).length;

    // A runbook that spans hosts: each role and its host, as the run recorded them (a terminal tab each).
    const roles = (Array.isArray(record.options.roles) ? (record.options.roles as Array<{ role?: unknown; host?: unknown }>) : [])
      .filter((x): x is { role: string; host: unknown } => typeof x.role === 'string')
      .map((x) => ({ role: x.role, host: typeof x.host === 'string' ? x.host : '' }));
    const roleHosts = Object.fromEntries(roles.map((x) => [x.role, x.host]));
    const parts = step.parts.map((p) => {
      if (p.kind === 'prose') return { prose: p.markdown };
      return { block: blockView(runbook.blocks[p.blockId]!, latest.get(p.blockId), live, tr, roleHosts) };
    });

    const stored = verdicts.get(step.id);
    const verdictStatus: StepStatus | 'pending' = stored?.status ?? 'pending';
    const split = splitHint(stored?.reason);
    const executable = step.commands.length + step.checks.length > 0;
    const verdict = {
      status: verdictStatus,
      title: executable || stored ? verdictTitle(verdictStatus, tr) : tr.t('verdict.nothing'),
      reason: stored ? split.reason : executable ? tr.t('verdict.runIt') : tr.t('verdict.readOnly'),
      hint: stored && stored.status !== 'passed' ? split.hint ?? failingHint(runbook, step, latest) : undefined,
    };

    const prev = index > 0 ? steps[index - 1]! : undefined;
    const next = index < steps.length - 1 ? steps[index + 1]! : undefined;
    const pageData: StepPageData = {
      runId: record.id,
      runbook: runbook.id,
      lang: tr.lang,
      stepId: step.id,
      live,
      training,
      steps: steps.map((s) => ({ id: s.id, title: s.title, href: s.href, status: s.status })),
      blocks: Object.fromEntries(
        [...step.commands, ...step.checks].map((id) => {
          const b = runbook.blocks[id]!;
          return [id, { kind: b.kind, confirm: b.confirm, hint: b.hint ?? null, label: kindLabel(b, tr) }];
        }),
      ),
      verdict: verdictStatus,
      ...(roles.length > 1 ? { roles } : {}),
    };

    // A failed run's Roll back, or how it was rolled back (rollback-view.ts).
    const rollback = rollbackPanel(h, record, runbook, live, tr);
    if (rollback) pageData.rollback = rollback.data;
    // Hints and the solution: only what the reader has revealed reaches the page (hints-view.ts).
    const hints = hintsPanel(ctx, record.id, step, res, tr.lang);
    if (hints) pageData.hints = hints.data;
    // Only when the version the run used was not kept (findRun prefers it).
    const changed = record.contentHash && found.ran && found.ran.contentHash !== record.contentHash;
    const resumedFrom = ctx.runs.get(record.id)?.resumedFrom;
    res.type('html').send(
      views.render('step', {
        title: tr.t('step.title', { step: step.title, runbook: runbook.title }),
        crumbs: [
          { label: tr.t('nav.runbooks'), href: '/' },
          { label: runbook.title, href: runbookHref(runbook.id) },
          { label: tr.t('step.crumbRun', { id: record.id }) },
        ] satisfies Crumb[],
        runId: record.id,
        // Four eyes: what this step waits for, with Approve / Reject (static/approvals-page.ts).
        approvals: new Approvals(ctx.store).pending(record.id).filter((a) => a.stepId === step.id).map((a) => ({ ...a, approved: a.decisions.filter((d) => d.decision === 'approve').length })),
        runHref: `/runs/${encodeURIComponent(record.id)}`,
        reportHref: reportHref(record.id),
        converge: record.options.converge === true,
        resumable: !live && RESUMABLE.has(record.status),
        resumed: record.parentRunId
          ? {
              parentId: record.parentRunId,
              parentHref: reportHref(record.parentRunId),
              step: resumedFrom ? runbook.steps.find((s) => s.id === resumedFrom.stepId)?.title ?? resumedFrom.stepId : null,
              notes: resumedFrom?.notes ?? [],
            }
          : null,
        runbookTitle: runbook.title,
        runbookHref: runbookHref(runbook.id),
        target: record.target,
        training,
        live,
        runStatus: live ? 'live' : record.status,
        stepIndex: index + 1,
        stepCount: steps.length,
        stepTitle: step.title,
        // The runbook's own language (its translation's when the run reads one), for lang=.
        contentLang: runbookLang(runbook),
        steps,
        doneCount,
        progressText: progressText(doneCount, steps.length, tr),
        allDone: doneCount === steps.length,
        parts,
        hasExecutable: executable,
        verdict,
        prev,
        next,
        nextLocked: training && executable && !isDone(verdictStatus),
        notice: changed ? tr.t('step.changedNotice') : null,
        hints: hints?.view ?? null,
        rollback: rollback?.view ?? null,
        roles: roles.length > 1 ? roles.map((x, i) => ({ ...x, first: i === 0 })) : null,
        pageData,
      }, res.locals),
    );
  });

  return r;
}

interface FoundRun {
  record: RunRecord;
  /** The runbook as the operator reads it (its translation when the run was started in one). */
  runbook: Runbook | undefined;
  /** The source the run executes (its hash is the one the run pinned). */
  ran: Runbook | undefined;
  live: boolean;
}

/**
 * A recorded run with the runbook it ran: the live run's own copy, else the version it pinned
 * when it started (the current file only when that version was not kept).
 */
function findRun(ctx: AppContext, history: RunHistory, id: string): FoundRun | undefined {
  if (!isRunId(id)) return undefined;
  const record = history.get(id);
  if (!record) return undefined;
  const run = ctx.runs.get(id);
  const live = !!run && !run.isEnded && run.session.state !== 'ended';
  const ran = run?.runbook ?? history.runbookAsRun(record) ?? history.currentRunbook(record);
  return { record, runbook: ran && readAs(ctx, record, ran), ran, live };
}

/**
 * The runbook as the operator reads it: a run started in a translation shows that
 * translation's prose (the file it pinned, from the catalog while it is still that version,
 * else from its snapshot); its blocks are byte-identical to the source's (the translation
 * check), so what is shown is what runs. Falls back to the source when the translation is gone.
 */
function readAs(ctx: AppContext, record: RunRecord, source: Runbook): Runbook {
  const t = record.options.translation as { file?: unknown; contentHash?: unknown } | undefined;
  if (!t || typeof t.file !== 'string' || typeof t.contentHash !== 'string') return source;
  const current = ctx.catalog().translations.find((x) => x.file === t.file)?.runbook;
  if (current && current.contentHash === t.contentHash) return current;
  const text = loadSnapshot(ctx.dataDir, t.contentHash);
  const parsed = text === undefined ? undefined : parseRunbook(text, t.file).runbook;
  // Same steps and blocks as the source, or it is not the translation that was checked.
  return parsed && parsed.steps.length === source.steps.length && parsed.steps.every((s, i) => s.id === source.steps[i]!.id) ? parsed : source;
}

function runbookMissing(record: RunRecord, tr: Translator): string {
  return record.runbookId
    ? tr.t('run.runbookGone', { id: record.id, runbook: record.runbookId })
    : tr.t('run.bareTerminal', { id: record.id });
}

function verdictMap(list: StoredStepVerdict[]): Map<string, StoredStepVerdict> {
  return new Map(list.map((v) => [v.stepId, v]));
}

function runRow(ctx: AppContext, run: RunRecord, tr: Translator = EN) {
  const live = !!ctx.runs.get(run.id);
  return {
    id: run.id,
    href: `/runs/${encodeURIComponent(run.id)}`,
    reportHref: reportHref(run.id),
    duration: run.endedAt ? formatDuration(Math.max(0, Date.parse(run.endedAt) - Date.parse(run.startedAt)), tr) : '',
    resumed: run.parentRunId !== null,
    converge: run.options.converge === true,
    // The title in the page's language when the runbook has a translation in it (as the index shows it).
    runbook: (run.runbookId && ctx.catalog().get(run.runbookId)?.translations.find((t) => t.lang === tr.lang && t.ok)?.runbook?.title) || (run.runbookTitle ?? run.runbookId ?? tr.t('runs.terminal')),
    runbookHref: run.runbookId ? runbookHref(run.runbookId) : null,
    status: run.status,
    live,
    training: run.options.training === true,
    target: run.target,
    user: run.user,
    startedAt: run.startedAt,
    started: formatTime(run.startedAt, tr),
  };
}

/**
 * "2025-11-27 03:31 UTC" (English), "2025. 11. 27. 03:31 UTC" (Korean): always UTC, so it is
 * stable and needs no client clock; the date's shape is the locale's (Intl).
 */
export function formatTime(iso: string, tr: Translator = EN): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
  if (!m) return iso;
  // English keeps ISO dates (sortable, what the tests and the reports show).
  const date = tr.lang === 'en' ? m[1]! : new Intl.DateTimeFormat(tr.locale, { timeZone: 'UTC', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso));
  return tr.t('time.utc', { date, time: m[2]! });
}

function countsText(s: Step, tr: Translator): string {
  const commands = s.commands.length;
  const checks = s.checks.length;
  if (!commands && !checks) return tr.t('overview.readingOnly');
  return tr.t('overview.counts', { commands, checks, both: commands && checks ? 'yes' : 'no' });
}

export function kindLabel(b: Block, tr: Translator = EN): string {
  switch (b.kind) {
    case 'check':
      return tr.t('block.check');
    case 'file':
      return tr.t('block.file');
    case 'command':
      return tr.t('block.command');
    case 'display':
      return b.lang || tr.t('block.text');
  }
}

function blockView(b: Block, result: StoredBlockResult | undefined, live: boolean, tr: Translator, roleHosts: Record<string, string> = {}) {
  const executable = b.kind !== 'display';
  const status: BlockStatus = result?.status ?? 'pending';
  const split = splitHint(result?.reason);
  const showHint = result && (result.status === 'failed' || result.status === 'warning');
  return {
    id: b.id,
    kind: b.kind,
    kindLabel: kindLabel(b, tr),
    executable,
    lang: b.lang,
    content: b.content,
    file: b.file ?? null,
    mode: b.mode ?? null,
    confirm: b.confirm,
    interactive: b.interactive,
    timeoutSec: b.timeoutSec ?? null,
    // Never run forward: no Run button; it runs in a rollback (rollback-panel.hbs).
    rollback: b.rollback === true,
    // A runbook that spans hosts: the role it runs on, and that role's host in this run.
    on: b.on ?? null,
    onHost: b.on !== undefined ? roleHosts[b.on] || null : null,
    status,
    live,
    result: result
      ? {
          meta: resultMeta(result, tr),
          reason: split.reason,
          hint: showHint ? split.hint ?? b.hint ?? '' : '',
          output: result.output,
        }
      : null,
  };
}

/** The hint of the first failing or warning block of a step, from its latest results. */
function failingHint(rb: Runbook, step: Step, latest: Map<string, StoredBlockResult>): string | undefined {
  for (const id of [...step.commands, ...step.checks]) {
    const r = latest.get(id);
    if (r && (r.status === 'failed' || r.status === 'warning') && rb.blocks[id]?.hint) return rb.blocks[id]!.hint;
  }
  return undefined;
}
