// The run report page's view model: the run's RunReport (server/report) shaped for
// views/report.hbs, with the timeline's geometry, the drift of the runbook since the run and
// what the page script needs (static/report-page.ts reads ReportPageData).
// Every text goes through handlebars escaping; nothing here is HTML.
import type { RunReport, ReportExecution, ReportStepStatus } from '../report/model.ts';
import { REPORT_FORMATS, type ReportFormat } from '../report/export.ts';
import type { RunRecord, RunStatus } from '../record/store.ts';
import { doneInChain, type RunDrift, type RunHistory } from '../run/history.ts';
import { formatDuration, resultMeta, splitHint, statusLabel } from '../../common/format.ts';
import type { ReportPageData } from '../../common/page-data.ts';
import { EN, type MessageKey, type Translator } from '../../common/i18n/index.ts';
import type { Runbook } from '../runbook/model.ts';
import { roleFacts } from '../report/roles.ts';

/** Statuses a run can be resumed from (a running one must be ended first). */
export const RESUMABLE: ReadonlySet<RunStatus> = new Set(['failed', 'interrupted', 'ended']);

/** Format names are names (JSON, JUnit, Markdown); the recording's and every hint are words. */
const EXPORT_LABEL: Record<ReportFormat, { label: string | MessageKey; hint: MessageKey }> = {
  json: { label: 'JSON', hint: 'report.export.json' },
  junit: { label: 'JUnit', hint: 'report.export.junit' },
  md: { label: 'Markdown', hint: 'report.export.md' },
  cast: { label: 'report.export.castLabel', hint: 'report.export.cast' },
};

function statusText(s: ReportStepStatus, tr: Translator): string {
  return s === 'not-run' ? tr.t('report.notRun') : statusLabel(s, tr);
}

/** One line under the result badge: what the status means for this run. */
function headline(report: RunReport, live: boolean, tr: Translator, title: (id: string, fallback: string | null) => string): string {
  if (live) return tr.t('report.live');
  const n = report.steps.length;
  const unverified = report.totals.notRun;
  switch (report.run.status) {
    case 'passed':
      return tr.t('report.allVerified', { count: n });
    case 'failed': {
      const first = report.steps.find((s) => s.status === 'failed');
      return first ? tr.t('report.failedAt', { step: title(first.id, first.title) }) : tr.t('report.failed');
    }
    case 'interrupted':
      return tr.t('report.interrupted');
    case 'expired':
      return tr.t('report.expired');
    case 'ended':
      return unverified ? tr.t('report.endedUnverified', { count: unverified }) : tr.t('report.ended');
    case 'running':
      return tr.t('report.inProgress');
  }
}

/** "2025-11-27 03:31:07 UTC": to the second, for an audit. */
export function formatInstant(iso: string | null): string {
  if (!iso) return '—';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} ${m[2]} UTC` : iso;
}

/** Seconds into a recording as "1:05.3" (or "0:00.4"). */
export function formatCastTime(sec: number): string {
  const s = Math.max(0, sec);
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  return `${m}:${rest.toFixed(1).padStart(4, '0')}`;
}

export function reportHref(runId: string): string {
  return `/runs/${encodeURIComponent(runId)}/report`;
}

export interface ReportViewInput {
  /** Where the chain, the runs that resumed this one and the drift come from (never the store itself). */
  history: RunHistory;
  record: RunRecord;
  report: RunReport;
  live: boolean;
  /** Notes of a live resumed run (secrets to give again, ...). */
  resumeNotes?: string[];
  /** The step a live resumed run picked up at. */
  resumedAt?: string;
  /** The page's language (English when not given). */
  tr?: Translator;
  /** The runbook as the operator read it (its translation): step titles come from it. */
  readAs?: Runbook;
}

export function reportView({ history, record, report, live, resumeNotes, resumedAt, tr = EN, readAs }: ReportViewInput) {
  const run = report.run;
  // Step titles in the language the operator read (the ids are the same in a translation).
  const title = (id: string, fallback: string | null): string => readAs?.steps.find((s) => s.id === id)?.title ?? fallback ?? id;
  const runbookId = run.runbookId;
  const hash = run.contentHash;
  const training = run.options.training === true;
  const converge = run.options.converge === true;
  const status: RunStatus | 'live' = live ? 'live' : run.status;

  // Each step's verdict along the chain of resumed runs; one from an earlier run is shown
  // for a step this run did nothing in.
  const inherited = history.chainVerdicts(record);

  const steps = report.steps.map((s, i) => {
    const split = splitHint(s.reason ?? undefined);
    const chained = inherited.get(s.id);
    const earlier = chained && chained.runId !== record.id ? chained : undefined;
    return {
      number: i + 1,
      id: s.id,
      anchor: `step-${s.id}`,
      title: title(s.id, s.title),
      hasTitle: s.title !== null,
      status: s.status,
      statusText: statusText(s.status, tr),
      reason: split.reason,
      hint: split.hint ?? '',
      duration: s.executions.length ? formatDuration(s.durationMs, tr) : '',
      executionCount: s.executions.length,
      executionText: tr.t('report.executions', { count: s.executions.length }),
      executions: s.executions.map((e) => executionView(e, tr)),
      earlier: earlier
        ? { status: earlier.status, statusText: statusLabel(earlier.status, tr), done: doneInChain(earlier), runId: earlier.runId, href: reportHref(earlier.runId) }
        : null,
    };
  });

  const totals = (
    [
      ['passed', report.totals.passed],
      ['warning', report.totals.warning],
      ['failed', report.totals.failed],
      ['skipped', report.totals.skipped],
      ['not-run', report.totals.notRun],
    ] as Array<[ReportStepStatus, number]>
  )
    .filter(([, n]) => n > 0)
    .map(([s, n]) => ({ status: s, count: n, label: statusText(s, tr), text: tr.t('report.total', { count: n, label: statusText(s, tr) }) }));

  const pageData: ReportPageData = {
    runId: run.id,
    runbook: runbookId,
    lang: tr.lang,
    castUrl: `/api/runs/${encodeURIComponent(run.id)}/recording.cast`,
    // The player plays the run's own recording: a runbook that spans hosts has the other roles' blocks in theirs.
    executions: report.steps.flatMap((s) =>
      s.executions.filter((e) => e.castTime !== null && (e.role === undefined || e.role === roleFacts(run.options)[0]?.role)).map((e) => ({ seq: e.seq, label: `${s.id}/${e.id}`, castTime: e.castTime! })),
    ),
  };

  return {
    run: {
      id: run.id,
      title: readAs?.title ?? run.runbookTitle ?? runbookId ?? tr.t('report.terminalSession'),
      runbookId,
      runbookHref: runbookId ? `/runbooks/${encodeURIComponent(runbookId)}` : null,
      file: run.runbookFile,
      versionShort: hash ? hash.slice(0, 12) : null,
      versionFull: hash,
      target: run.target,
      targetPlatform: targetPlatform(run.options),
      user: run.user,
      started: formatInstant(run.startedAt),
      startedAt: run.startedAt,
      ended: run.endedAt ? formatInstant(run.endedAt) : live ? tr.t('report.stillRunning') : '—',
      endedAt: run.endedAt,
      duration: run.durationMs !== null ? formatDuration(run.durationMs, tr) : live ? tr.t('report.soFar', { duration: formatDuration(Date.now() - Date.parse(run.startedAt), tr) }) : '—',
      status,
      headline: headline(report, live, tr, title),
      live,
      training,
      converge,
      parent: run.parentRunId ? { id: run.parentRunId, href: reportHref(run.parentRunId) } : null,
      resumedAt: resumedAt ? title(resumedAt, report.steps.find((s) => s.id === resumedAt)?.title ?? null) : null,
      resumeNotes: resumeNotes ?? [],
      resumedBy: history.resumedBy(record).map((r) => ({ id: r.id, href: reportHref(r.id) })),
      vars: Object.entries(run.vars).map(([name, value]) => ({ name, value })),
      openHref: `/runs/${encodeURIComponent(run.id)}`,
    },
    totals,
    stepCount: report.steps.length,
    executionCount: report.steps.reduce((n, s) => n + s.executions.length, 0),
    timeline: timeline(report, live, tr, title),
    steps,
    exports: REPORT_FORMATS.map((f) => ({
      format: f,
      label: EXPORT_LABEL[f].label.startsWith('report.') ? tr.t(EXPORT_LABEL[f].label as MessageKey) : EXPORT_LABEL[f].label,
      hint: tr.t(EXPORT_LABEL[f].hint),
      href: `/api/runs/${encodeURIComponent(run.id)}/report.${f}`,
    })),
    drift: driftView(record, report, history, tr),
    commandsUnavailable: !report.runbookMatched && report.steps.some((s) => s.executions.some((e) => e.command === null)),
    resumable: !live && !!runbookId && RESUMABLE.has(run.status),
    pageData,
  };
}

function executionView(e: ReportExecution, tr: Translator) {
  const split = splitHint(e.reason ?? undefined);
  const bad = e.status === 'failed' || e.status === 'warning';
  return {
    seq: e.seq,
    anchor: `exec-${e.seq}`,
    id: e.id,
    kind: e.kind,
    kindLabel: tr.t(e.kind === 'check' ? 'block.check' : e.kind === 'file' ? 'block.file' : 'block.command'),
    // A runbook that spans hosts: where it ran.
    role: e.role ?? null,
    host: e.host ?? null,
    status: e.status,
    statusText: statusLabel(e.status, tr),
    attempt: e.attempt,
    retryAttempt: e.retryAttempt ?? null,
    showAttempt: e.attempt > 1 || e.retryAttempt !== undefined,
    attemptText: e.retryAttempt !== undefined ? tr.t('report.attemptTry', { attempt: e.attempt, try: e.retryAttempt }) : tr.t('report.attempt', { attempt: e.attempt }),
    command: e.command,
    file: e.file ?? null,
    exitCode: e.exitCode,
    exitText: e.end === 'skipped' ? tr.t('meta.notRun') : e.exitCode === null ? '—' : String(e.exitCode),
    exitBad: e.exitCode !== null && e.exitCode !== 0,
    duration: e.end === 'skipped' ? '' : formatDuration(e.durationMs, tr),
    meta: resultMeta(e, tr),
    reason: split.reason,
    reasonBad: bad,
    hint: split.hint ?? '',
    output: e.output,
    started: formatInstant(e.startedAt),
    startedAt: e.startedAt,
    castTime: e.castTime,
    castTimeText: e.castTime !== null ? formatCastTime(e.castTime) : null,
    digest: e.outputDigest,
  };
}

function targetPlatform(options: Record<string, unknown>): string | null {
  const info = options.targetInfo as { platform?: unknown; host?: unknown } | undefined;
  if (!info || typeof info !== 'object') return null;
  const parts = [typeof info.platform === 'string' ? info.platform : '', typeof info.host === 'string' ? info.host : ''].filter(Boolean);
  return parts.length ? parts.join(' · ') : null;
}

/**
 * The timeline: one row per step, one segment per block execution placed at its start within
 * the run and as wide as it took (at least a sliver, so a quick check is still visible).
 */
function timeline(report: RunReport, live: boolean, tr: Translator, title: (id: string, fallback: string | null) => string) {
  const start = Date.parse(report.run.startedAt);
  const ends = report.steps.flatMap((s) => s.executions.map((e) => Date.parse(e.startedAt) + e.durationMs));
  const endedAt = report.run.endedAt ? Date.parse(report.run.endedAt) : live ? Date.now() : Math.max(start, ...ends);
  const span = Math.max(1, Math.max(endedAt, ...ends) - start);
  const pct = (ms: number) => Math.min(100, Math.max(0, (ms / span) * 100));
  const rows = report.steps.map((s, i) => ({
    number: i + 1,
    title: title(s.id, s.title),
    anchor: `step-${s.id}`,
    status: s.status,
    statusText: statusText(s.status, tr),
    duration: s.executions.length ? formatDuration(s.durationMs, tr) : '—',
    segments: s.executions.map((e) => {
      const left = pct(Date.parse(e.startedAt) - start);
      const width = Math.max(0.6, pct(e.durationMs));
      return {
        seq: e.seq,
        anchor: `exec-${e.seq}`,
        status: e.status,
        // Numbers only: the page puts them in place (data-geometry; the CSP refuses style attributes).
        style: `left:${Math.min(left, 100 - width).toFixed(3)}%;width:${width.toFixed(3)}%`,
        title: tr.t('meta.join', { a: tr.t('meta.join', { a: e.id, b: statusLabel(e.status, tr) }), b: e.end === 'skipped' ? tr.t('meta.notRun') : formatDuration(e.durationMs, tr) }),
      };
    }),
  }));
  return { rows, total: formatDuration(span, tr), hasExecutions: ends.length > 0 };
}

export interface DriftView {
  message: string;
  currentHash: string | null;
  steps: Array<{ stepId: string; title: string; change: string; changeText: string; lines: Array<{ kind: string; text: string }> }>;
  note: string | null;
}

/**
 * How the runbook file differs from the version the run used, for the steps the run went
 * through: null when it does not (or the run had no runbook).
 */
export function driftView(record: RunRecord, report: RunReport, history: RunHistory, tr: Translator = EN): DriftView | null {
  const ran = new Set(report.steps.filter((s) => s.executions.length > 0 || s.status !== 'not-run').map((s) => s.id));
  const drift = history.drift(record, ran);
  return drift ? driftText(record, drift, tr) : null;
}

/** The drift callout's texts. Pure. */
export function driftText(record: RunRecord, drift: RunDrift, tr: Translator = EN): DriftView {
  if (drift.gone) {
    return { message: tr.t('report.drift.gone', { id: record.runbookId ?? '' }), currentHash: null, steps: [], note: null };
  }
  const message = tr.t('report.drift.message', { ran: drift.ranHash.slice(0, 12), current: drift.currentHash ? drift.currentHash.slice(0, 12) : tr.t('report.drift.unknown') });
  if (!drift.steps) {
    const note = drift.missing === 'pinned' ? tr.t('report.drift.notKept') : tr.t('report.drift.unreadable');
    return { message, currentHash: drift.currentHash, steps: [], note };
  }
  const changed = drift.steps.filter((d) => d.change !== 'unchanged');
  return {
    message,
    currentHash: drift.currentHash,
    steps: changed.map((d) => ({
      stepId: d.stepId,
      title: d.title,
      change: d.change,
      changeText: tr.t(d.change === 'removed' ? 'report.drift.removed' : d.change === 'added' ? 'report.drift.added' : 'report.drift.changed'),
      lines: d.diff ? diffLines(d.diff) : [],
    })),
    note: changed.length ? null : tr.t('report.drift.elsewhere'),
  };
}

/** A unified diff's lines from its `---` header on, each with its kind for styling. */
function diffLines(diff: string): Array<{ kind: string; text: string }> {
  const lines = diff.replace(/\n$/, '').split('\n');
  const from = lines.findIndex((l) => l.startsWith('--- '));
  return lines.slice(from < 0 ? 0 : from).map((text) => ({
    text,
    kind: text.startsWith('+++') || text.startsWith('---') ? 'meta' : text.startsWith('@@') ? 'hunk' : text.startsWith('+') ? 'add' : text.startsWith('-') ? 'del' : 'ctx',
  }));
}
