// A run report as Markdown, for a ticket or a wiki page. Pure.
//
// Recorded text never escapes its place: inline text (titles, reasons, values) has Markdown
// punctuation backslash-escaped and newlines flattened; commands and outputs go in backtick
// fences longer than any backtick run inside them, so no line of content can close the fence.

import { stepLabel, type ReportExecution, type ReportStep, type ReportStepStatus, type RunReport } from './model.ts';
import { hostFacts } from './host.ts';
import { placeText, roleFacts } from './roles.ts';

const MARK: Record<ReportStepStatus, string> = {
  passed: '✓ passed',
  failed: '✗ failed',
  warning: '⚠ warning',
  skipped: 'skip',
  'not-run': 'not run',
};

/**
 * Control characters made visible: C0 and DEL as their Unicode control pictures (an ESC in a
 * value shows as ␛ instead of driving a terminal that cats the report), C1 as U+FFFD, and the
 * bidirectional overrides and isolates that can make text read other than it is removed.
 */
export function visibleControls(s: string): string {
  return s
    .replace(/[\u0000-\u001F\u007F]/g, (c) => (c === '\u007F' ? '\u2421' : String.fromCharCode(0x2400 + c.charCodeAt(0))))
    .replace(/[\u0080-\u009F]/g, '\uFFFD')
    .replace(/[\u202A-\u202E\u2066-\u2069]/g, '');
}

/** Inline text safe in a paragraph or a table cell: one line, Markdown/HTML punctuation escaped. */
export function mdInline(s: string): string {
  return visibleControls(s.replace(/\r\n?|\n|\t/g, ' ').replace(/[\\`*_[\]<>|~&#!]/g, (c) => `\\${c}`));
}

/**
 * Inline code span that holds any text (its delimiters are longer than any backtick run inside).
 * In a table cell a `|` would end the cell even inside the span: pass inTable to escape it
 * (GFM removes that backslash again).
 */
export function mdCode(s: string, inTable = false): string {
  const text = visibleControls(s.replace(/\r\n?|\n|\t/g, ' '));
  if (text === '') return '` `';
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const ticks = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') || (text.startsWith(' ') && text.endsWith(' ')) ? ' ' : '';
  return `${ticks}${pad}${inTable ? text.replace(/\|/g, '\\|') : text}${pad}${ticks}`;
}

/**
 * A fenced code block whose fence is longer than any backtick run in the content. Lines and
 * tabs stay; every other control character is made visible (a command holds variable values,
 * and an escape in one must not drive the terminal that shows the report).
 */
export function mdFence(content: string, lang: string): string {
  const text = content.replace(/\r\n/g, '\n').split('\n').map((line) => line.split('\t').map(visibleControls).join('\t')).join('\n');
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  const body = text.endsWith('\n') ? text : `${text}\n`;
  return `${fence}${lang}\n${body}${fence}`;
}

function duration(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s - m * 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function execution(e: ReportExecution): string {
  const facts = [
    `**${e.status}**`,
    e.exitCode === null ? null : `exit code ${e.exitCode}`,
    duration(e.durationMs),
    e.end !== 'exit' && e.end !== 'skipped' ? `ended: ${e.end}` : null,
    e.attempt > 1 ? `attempt ${e.attempt}` : null,
    placeText(e) ? `on ${placeText(e)}` : null,
  ].filter(Boolean);
  const parts = [`#### ${mdCode(e.id)} (${e.kind}${e.file ? ` → ${mdCode(e.file)}` : ''}) — ${facts.join(', ')}`];
  if (e.reason) parts.push(`Reason: ${mdInline(e.reason)}`);
  parts.push(e.command !== null ? mdFence(e.command, 'sh') : '_Command text unavailable: the version of the runbook this run used was not kept._');
  parts.push(e.output ? mdFence(e.output, 'text') : '_No output._');
  return parts.join('\n\n');
}

function stepSection(step: ReportStep, n: number): string {
  const parts = [`### ${n}. ${mdInline(stepLabel(step))} — ${MARK[step.status]}`];
  if (step.reason) parts.push(`Reason: ${mdInline(step.reason)}`);
  if (step.executions.length) parts.push(...step.executions.map(execution));
  else parts.push('_Nothing ran in this step._');
  return parts.join('\n\n');
}

/** How the run was rolled back (report/rollback.ts): who, which steps, how it ended, each block. */
function rollbackSection(rb: NonNullable<RunReport['rollback']>): string {
  const outcome = rb.status === 'passed'
    ? `**passed**: undone ${rb.undone.map((s) => mdCode(s)).join(', ') || '—'}`
    : rb.status === 'failed'
      ? `**failed** at ${mdCode(rb.failedBlock ?? '?')}${rb.reason ? `: ${mdInline(rb.reason)}` : ''}; undone ${rb.undone.map((s) => mdCode(s)).join(', ') || '—'}`
      : '**started**, no end recorded';
  const parts = [
    '## Rollback',
    `Rolls back run ${mdCode(rb.of)} in run ${mdCode(rb.runId)}${rb.by ? `, asked by ${mdCode(rb.by)}` : ''}, ${rb.startedAt}: steps ${rb.planned.map((s) => mdCode(s)).join(', ')} (the last step first). ${outcome}.`,
    ...rb.executions.map((e) => execution(e)),
  ];
  return parts.join('\n\n');
}

export function toMarkdown(report: RunReport): string {
  const r = report.run;
  const t = report.totals;
  const title = r.runbookTitle ?? r.runbookId ?? 'terminal session';
  const vars = Object.keys(r.vars).sort();
  const cell = (v: string): string => mdCode(v, true);
  const header: Array<[string, string]> = [
    ['Run', cell(r.id)],
    ['Status', `**${r.status}**`],
    ['Runbook', r.runbookId ? `${mdInline(r.runbookTitle ?? r.runbookId)} (${cell(r.runbookId)}${r.runbookFile ? `, ${cell(r.runbookFile)}` : ''})` : '—'],
    ['Version', r.contentHash ? `${cell(r.contentHash)}${report.runbookChanged ? ' (the runbook has changed since)' : ''}` : '—'],
    ['Target', cell(r.target)],
    ['User', cell(r.user)],
    ['Started', r.startedAt],
    ['Ended', r.endedAt ?? '—'],
    ['Duration', duration(r.durationMs)],
    ['Variables', vars.length ? vars.map((k) => cell(`${k}=${r.vars[k]}`)).join(', ') : '—'],
  ];
  if (r.parentRunId) header.push(['Parent run', cell(r.parentRunId)]);
  // A runbook that spans hosts: each role's target and host (and its SSH identity when it has one).
  for (const f of roleFacts(r.options)) {
    const id = f.identity;
    header.push([`Role ${mdInline(f.role)}`, [cell(f.target), f.host && cell(f.host), id?.hostKey && `host key ${cell(id.hostKey)}`, id?.machineId && `machine id ${cell(id.machineId)}`].filter(Boolean).join(', ')]);
  }
  const host = hostFacts(r.options);
  if (host) {
    header.push(['Host', [host.hostname, host.os, host.kernel && `kernel ${host.kernel}`].filter(Boolean).map((v) => cell(v!)).join(', ') || '—']);
    header.push(['Host key', host.hostKey ? `${cell(host.hostKey)}${host.acceptedNew ? ' (trusted on this run: --accept-new-host-key)' : ''}` : '—']);
    header.push(['Machine id', host.machineId ? cell(host.machineId) : '—']);
  }

  const lines = [
    `# Run ${mdCode(r.id)}: ${mdInline(title)}`,
    '',
    row(['Field', 'Value']),
    row(['---', '---']),
    ...header.map(([k, v]) => row([k, v])),
    '',
    `**Totals:** ${t.passed} passed, ${t.failed} failed, ${t.warning} ${t.warning === 1 ? 'warning' : 'warnings'}, ${t.skipped} skipped, ${t.notRun} not run`,
    '',
  ];
  // Say only what is true of this document: commands may come from the pinned snapshot.
  const hidden = !report.runbookMatched && report.steps.some((s) => s.executions.some((e) => e.command === null));
  if (hidden) {
    lines.push(`> ${report.runbookChanged ? 'The runbook has changed since this run and the version it used was not kept' : 'The runbook this run used is not available'}: command texts and step titles are not shown.`, '');
  } else if (report.runbookChanged) {
    lines.push('> The runbook file has changed since this run: the commands and step titles shown are the version that ran.', '');
  }
  if (report.approvals?.length) {
    lines.push(
      '## Approvals',
      '',
      row(['Block', 'Needed', 'Operator', 'Outcome', 'Decisions']),
      row(['---', '---:', '---', '---', '---']),
      ...report.approvals.map((a) =>
        row([
          mdCode(`${a.stepId}/${a.blockId}`, true),
          String(a.need),
          mdCode(a.operator, true),
          `**${a.state}**`,
          a.decisions.map((d) => `${mdCode(d.user, true)} ${d.decision === 'approve' ? 'approved' : 'rejected'} ${d.at}${d.comment ? `: ${mdInline(d.comment)}` : ''}`).join('; ') || '—',
        ]),
      ),
      '',
    );
  }
  lines.push(
    '## Steps',
    '',
    row(['#', 'Step', 'Result', 'Duration', 'Reason']),
    row(['---', '---', '---', '---:', '---']),
    ...report.steps.map((s, i) =>
      row([String(i + 1), mdInline(stepLabel(s)), MARK[s.status], s.executions.length ? duration(s.durationMs) : '—', s.reason ? mdInline(s.reason) : '']),
    ),
    '',
    '## Details',
    '',
    report.steps.map((s, i) => stepSection(s, i + 1)).join('\n\n'),
    '',
  );
  if (report.rollback) lines.push(rollbackSection(report.rollback), '');
  return lines.join('\n');
}
