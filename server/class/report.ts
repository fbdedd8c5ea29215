// The class report: per trainee per step its status, attempts, hints and time, and each
// trainee's completion, as CSV (spreadsheet-safe) or Markdown. Pure.
import type { TraineeProgress } from './progress.ts';

export interface ClassReportInput {
  name: string;
  id: string;
  runbook: string;
  trainer: string;
  createdAt: string;
  endedAt: string | null;
  steps: ReadonlyArray<{ id: string; title: string }>;
  trainees: ReadonlyArray<{ trainee: string; runId: string | null; progress: TraineeProgress }>;
}

/**
 * One CSV field: quoted when it holds a quote, comma or line break; a text a spreadsheet would
 * read as a formula (= + - @, tab, carriage return first) gets a leading apostrophe (OWASP,
 * CSV injection), so opening the report never runs anything.
 */
export function csvField(v: string | number | null): string {
  if (v === null) return '';
  if (typeof v === 'number') return String(v);
  let s = v;
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const pct = (x: number) => Math.round(x * 100);

export function classReportCsv(r: ClassReportInput): string {
  const rows: Array<Array<string | number | null>> = [['class', 'trainee', 'run', 'step', 'title', 'status', 'attempts', 'hints', 'solution', 'seconds', 'completion_percent']];
  for (const t of r.trainees) {
    for (const s of t.progress.steps) {
      const title = r.steps.find((x) => x.id === s.id)?.title ?? s.id;
      rows.push([r.name, t.trainee, t.runId, s.id, title, s.status, s.attempts, s.hintsUsed, s.solutionRevealed ? 'yes' : 'no', s.secondsOnStep, pct(t.progress.completion)]);
    }
  }
  return rows.map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** Markdown table cells: pipes and line breaks would break the table; backslashes and HTML-ish characters are escaped. */
function mdCell(v: string | number): string {
  return String(v).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/[<>]/g, (c) => (c === '<' ? '&lt;' : '&gt;')).replace(/\r?\n|\r/g, ' ');
}

const mins = (sec: number) => (sec < 60 ? `${sec} s` : `${Math.floor(sec / 60)} min ${sec % 60} s`);

export function classReportMarkdown(r: ClassReportInput): string {
  const out: string[] = [];
  out.push(`# Class report: ${mdCell(r.name)}`, '');
  out.push(`- Class: ${mdCell(r.id)}`, `- Runbook: ${mdCell(r.runbook)}`, `- Trainer: ${mdCell(r.trainer)}`, `- Started: ${r.createdAt}`, `- Ended: ${r.endedAt ?? 'not yet'}`);
  const avg = r.trainees.length ? r.trainees.reduce((a, t) => a + t.progress.completion, 0) / r.trainees.length : 0;
  const finished = r.trainees.filter((t) => t.progress.completion === 1).length;
  out.push(`- Completion: ${pct(avg)}% on average; ${finished} of ${r.trainees.length} trainees finished every step`, '');
  out.push('## Trainees', '', '| trainee | completion | current step | stuck |', '| --- | --- | --- | --- |');
  for (const t of r.trainees) out.push(`| ${mdCell(t.trainee)} | ${pct(t.progress.completion)}% | ${mdCell(t.progress.current ?? '—')} | ${t.progress.stuck ? 'yes' : 'no'} |`);
  out.push('');
  for (const t of r.trainees) {
    out.push(`## ${mdCell(t.trainee)}`, '', `Run: ${t.runId ? mdCell(t.runId) : 'not joined'}`, '', '| step | status | attempts | hints | solution | time |', '| --- | --- | --- | --- | --- | --- |');
    for (const s of t.progress.steps) {
      const title = r.steps.find((x) => x.id === s.id)?.title ?? s.id;
      out.push(`| ${mdCell(title)} (${mdCell(s.id)}) | ${s.status} | ${s.attempts} | ${s.hintsUsed} | ${s.solutionRevealed ? 'revealed' : '—'} | ${mins(s.secondsOnStep)} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
