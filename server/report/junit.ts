// A run report as JUnit XML, for CI systems: one testsuite per run (named by the runbook),
// one testcase per step. Pure.
//
//   failed           -> <failure message="reason"> with the failing blocks' commands and outputs
//   warning          -> passes, <system-out> starts with the warning
//   skipped, not-run -> <skipped message="reason"/>
//   every testcase   -> <system-out> with each execution's command and output
//
// Text is escaped for XML 1.0; characters XML 1.0 forbids (C0 controls other than tab, LF and CR,
// U+FFFE, U+FFFF, lone surrogates) are replaced: C0 controls by their Control Pictures
// (U+2400 + code, so ESC shows as ␛), the others by U+FFFD.

import { stepLabel, type ReportExecution, type ReportStep, type RunReport } from './model.ts';
import { hostFacts, type HostFacts } from './host.ts';
import { placeText, roleFacts } from './roles.ts';

/** The SSH host's recorded identity as JUnit properties (none for a local or lab run). */
function hostProps(h: HostFacts | undefined): Array<[string, string]> {
  if (!h) return [];
  const out: Array<[string, string | undefined]> = [
    ['stepwise.host.name', h.hostname],
    ['stepwise.host.key', h.hostKey],
    ['stepwise.host.keyAcceptedNew', h.acceptedNew ? 'true' : undefined],
    ['stepwise.host.machineId', h.machineId],
    ['stepwise.host.os', h.os],
    ['stepwise.host.kernel', h.kernel],
  ];
  return out.filter((p): p is [string, string] => p[1] !== undefined);
}

const INVALID_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Replace characters XML 1.0 does not allow (see the header). */
export function xmlSafe(s: string): string {
  return s.replace(INVALID_XML_CHAR, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x20 ? String.fromCharCode(0x2400 + code) : '\uFFFD';
  });
}

/** Escape for element content. CR is written as a reference so parsers keep it. */
export function xmlText(s: string): string {
  return xmlSafe(s).replace(/[&<>\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#13;'));
}

/** Escape for a double-quoted attribute value; tab, LF and CR survive attribute normalisation. */
export function xmlAttr(s: string): string {
  return xmlSafe(s).replace(/[&<>"\t\n\r]/g, (c) => {
    switch (c) {
      case '&': return '&amp;';
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '"': return '&quot;';
      case '\t': return '&#9;';
      case '\n': return '&#10;';
      default: return '&#13;';
    }
  });
}

/** Milliseconds as JUnit seconds. */
function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

function attrs(a: Record<string, string | number | null | undefined>): string {
  return Object.entries(a)
    .filter((e): e is [string, string | number] => e[1] !== null && e[1] !== undefined)
    .map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`)
    .join('');
}

/** One execution as plain text: a heading line, the command (`$ ` first line) and its output. */
function executionText(e: ReportExecution): string {
  const facts = [
    e.status,
    e.exitCode === null ? null : `exit ${e.exitCode}`,
    `${seconds(e.durationMs)}s`,
    e.end !== 'exit' && e.end !== 'skipped' ? `ended: ${e.end}` : null,
    e.attempt > 1 ? `attempt ${e.attempt}` : null,
    placeText(e) ? `on ${placeText(e)}` : null,
  ].filter(Boolean);
  const lines = [`--- ${e.id} (${e.kind}${e.file ? ` ${e.file}` : ''}): ${facts.join(', ')}`];
  if (e.reason) lines.push(`reason: ${e.reason}`);
  if (e.command !== null) {
    lines.push(...e.command.split('\n').map((l, i) => (i === 0 ? `$ ${l}` : `> ${l}`)));
  } else {
    lines.push('$ (command text unavailable: the runbook changed since this run)');
  }
  if (e.output) lines.push(e.output.replace(/\n$/, ''));
  return lines.join('\n');
}

function testcase(step: ReportStep, suite: string): string {
  const open = `    <testcase${attrs({ classname: suite, name: stepLabel(step), time: seconds(step.durationMs) })}>`;
  const body: string[] = [];
  const reason = step.reason ?? step.status;
  switch (step.status) {
    case 'failed': {
      const failing = step.executions.filter((e) => e.status === 'failed');
      const text = failing.length ? failing.map(executionText).join('\n\n') : reason;
      body.push(`      <failure${attrs({ message: reason, type: 'failed' })}>${xmlText(text)}</failure>`);
      break;
    }
    case 'skipped':
      body.push(`      <skipped${attrs({ message: reason })}/>`);
      break;
    case 'not-run':
      body.push(`      <skipped${attrs({ message: step.reason ? `not run: ${step.reason}` : 'not run' })}/>`);
      break;
    case 'warning':
    case 'passed':
      break;
  }
  const out: string[] = [];
  if (step.status === 'warning') out.push(`WARNING: ${reason}`);
  out.push(...step.executions.map(executionText));
  if (out.length) body.push(`      <system-out>${xmlText(out.join('\n\n') + '\n')}</system-out>`);
  return body.length ? `${open}\n${body.join('\n')}\n    </testcase>` : `${open.slice(0, -1)}/>`;
}

export function toJUnit(report: RunReport): string {
  const r = report.run;
  const suite = r.runbookId ?? 'terminal';
  const steps = report.steps;
  const tests = steps.length;
  const failures = report.totals.failed;
  const skipped = report.totals.skipped + report.totals.notRun;
  const time = seconds(steps.reduce((t, s) => t + s.durationMs, 0));
  const counts = { tests, failures, errors: 0, skipped, time };
  const props: Array<[string, string | number | null]> = [
    ['stepwise.run.id', r.id],
    ['stepwise.run.status', r.status],
    ['stepwise.runbook.id', r.runbookId],
    ['stepwise.runbook.title', r.runbookTitle],
    ['stepwise.runbook.file', r.runbookFile],
    ['stepwise.runbook.contentHash', r.contentHash],
    ['stepwise.runbook.changed', String(report.runbookChanged)],
    ['stepwise.target', r.target],
    ['stepwise.user', r.user],
    ['stepwise.startedAt', r.startedAt],
    ['stepwise.endedAt', r.endedAt],
    ['stepwise.durationMs', r.durationMs],
    ['stepwise.parentRunId', r.parentRunId],
    ...hostProps(hostFacts(r.options)),
    // A runbook that spans hosts: each role's target and host.
    ...roleFacts(r.options).map((f): [string, string] => [`stepwise.role.${f.role}`, `${f.target} ${f.host}${f.identity?.hostKey ? ` ${f.identity.hostKey}` : ''}`]),
    ...Object.keys(r.vars).sort().map((k): [string, string] => [`stepwise.var.${k}`, r.vars[k]!]),
    ...(report.approvals ?? []).map((a, i): [string, string] => [
      `stepwise.approval.${i + 1}`,
      `${a.stepId}/${a.blockId} ${a.state} (needs ${a.need}, operator ${a.operator})${a.decisions.map((d) => `; ${d.decision} by ${d.user} at ${d.at}${d.comment ? `: ${d.comment}` : ''}`).join('')}`,
    ]),
    // Rolled back (report/rollback.ts): not a test case of the procedure, a fact about the run.
    ...(report.rollback
      ? [['stepwise.rollback', `${report.rollback.status} in run ${report.rollback.runId}: undone ${report.rollback.undone.join(', ') || '-'}${report.rollback.failedBlock ? `; stopped at ${report.rollback.failedBlock}: ${report.rollback.reason ?? ''}` : ''}`] as [string, string]]
      : []),
  ];
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: `stepwise ${r.id}`, ...counts })}>`,
    `  <testsuite${attrs({ name: suite, ...counts, timestamp: r.startedAt, hostname: r.target, id: r.id })}>`,
    '    <properties>',
    ...props.filter(([, v]) => v !== null).map(([name, value]) => `      <property${attrs({ name, value })}/>`),
    '    </properties>',
    ...steps.map((s) => testcase(s, suite)),
    '  </testsuite>',
    '</testsuites>',
  ];
  return lines.join('\n') + '\n';
}
