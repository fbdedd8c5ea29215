// A fleet's report (docs/api.md, Fleets): the fleet (hosts × steps, counts, failure budget) and
// each host's run report (model.ts), as JSON, Markdown, or JUnit XML with one <testsuite> per
// host. The renderers are pure; exportFleet is the edge that reads the records.
import type { Outcome } from '../../common/outcome.ts';
import { failure } from '../errors.ts';
import type { RunHistory } from '../run/history.ts';
import { fleetViewOf, type FleetsDeps } from '../run/fleet.ts';
import type { FleetView } from '../run/fleet-view.ts';
import type { RunReport } from './model.ts';
import { toJUnit, xmlAttr, xmlText } from './junit.ts';
import { mdCode, mdInline, toMarkdown } from './markdown.ts';

export const FLEET_REPORT_SCHEMA = 'stepwise-fleet-report/1';
export const FLEET_REPORT_FORMATS = ['json', 'md', 'junit'] as const;
export type FleetReportFormat = (typeof FLEET_REPORT_FORMATS)[number];

export interface FleetReport {
  schema: typeof FLEET_REPORT_SCHEMA;
  fleet: Omit<FleetView, 'live'>;
  /** In the fleet's order; `report` is null for a host whose run never started. */
  hosts: Array<{ host: string; status: string; reason: string | null; batch: number; runId: string; report: RunReport | null }>;
}

export function buildFleetReport(view: FleetView, reportOf: (runId: string) => RunReport | undefined): FleetReport {
  const { live: _live, ...fleet } = view;
  return {
    schema: FLEET_REPORT_SCHEMA,
    fleet,
    hosts: view.hosts.map((h) => ({
      host: h.host,
      status: h.status,
      reason: h.reason ?? null,
      batch: h.batch,
      runId: h.runId,
      report: h.started ? (reportOf(h.runId) ?? null) : null,
    })),
  };
}

const row = (cells: string[]) => `| ${cells.join(' | ')} |`;

/** One host's run report under a heading of its own: its headings one level down (outside code fences). */
function demote(md: string): string {
  let fence: string | undefined;
  return md
    .split('\n')
    .map((line) => {
      const f = /^(`{3,}|~{3,})/.exec(line)?.[1];
      if (f && (fence === undefined || (f[0] === fence[0] && f.length >= fence.length))) {
        fence = fence === undefined ? f : undefined;
        return line;
      }
      return fence === undefined && /^#{1,5} /.test(line) ? `#${line}` : line;
    })
    .join('\n');
}

export function fleetToMarkdown(r: FleetReport): string {
  const f = r.fleet;
  const c = f.counts;
  const lines = [
    `# Fleet ${mdCode(f.id)}: ${mdInline(f.runbook)}`,
    '',
    row(['Field', 'Value']),
    row(['---', '---']),
    row(['Status', `**${f.status}**${f.reason ? ` — ${mdInline(f.reason)}` : ''}`]),
    row(['Runbook', mdCode(f.runbook, true)]),
    row(['Target', mdCode(f.target, true)]),
    row(['User', mdCode(f.user, true)]),
    row(['Started', f.startedAt]),
    row(['Ended', f.endedAt ?? '—']),
    row(['Parallel', String(f.parallel)]),
    row(['Failure budget', `--max-fail ${mdCode(f.maxFail, true)}: ${f.budget.failed} failed of ${f.budget.allowed} allowed${f.budget.exhausted ? ' (spent)' : ''}`]),
    row(['Batches', f.batches ? mdCode(f.batches, true) : 'one']),
    ...(f.parentFleetId ? [row(['Resumes fleet', mdCode(f.parentFleetId, true)])] : []),
    '',
    `**Hosts:** ${c.passed} passed, ${c.failed + c.interrupted} failed, ${c.skipped} skipped`,
    '',
    '## Hosts',
    '',
    row(['Host', 'Batch', 'Status', 'Run', ...f.steps.map((s) => mdCode(s.id, true)), 'Reason']),
    row(['---', '---:', '---', '---', ...f.steps.map(() => '---'), '---']),
    ...f.hosts.map((h) =>
      row([mdCode(h.host, true), String(h.batch + 1), `**${h.status}**`, h.started ? mdCode(h.runId, true) : '—', ...h.steps.map((s) => s.status), h.reason ? mdInline(h.reason) : '']),
    ),
    '',
  ];
  for (const h of r.hosts) {
    lines.push(`## Host ${mdCode(h.host)}`, '');
    if (h.report) lines.push(demote(toMarkdown(h.report)).trimEnd(), '');
    else lines.push(`Not run: ${mdInline(h.reason ?? h.status)}`, '');
  }
  return lines.join('\n');
}

/** One <testsuite> per host (named by the host): its run's testcases, or one testcase saying why it did not run. */
export function fleetToJUnit(r: FleetReport): string {
  const f = r.fleet;
  let tests = 0;
  let failures = 0;
  let skipped = 0;
  const suites: string[] = [];
  for (const h of r.hosts) {
    if (h.report) {
      const t = h.report.totals;
      tests += h.report.steps.length;
      failures += t.failed;
      skipped += t.skipped + t.notRun;
      // The run's own suite as toJUnit writes it (between <testsuites> and </testsuites>), named by the host.
      const lines = toJUnit(h.report).trimEnd().split('\n').slice(2, -1);
      lines[0] = lines[0]!.replace(/^(\s*<testsuite name=")[^"]*"/, `$1${xmlAttr(h.host)}"`);
      const propsEnd = lines.findIndex((l) => l.trim() === '</properties>');
      if (propsEnd > 0) lines.splice(propsEnd, 0, `      <property name="stepwise.fleet.id" value="${xmlAttr(f.id)}"/>`, `      <property name="stepwise.fleet.host" value="${xmlAttr(h.host)}"/>`);
      suites.push(...lines);
    } else {
      tests += 1;
      const failed = h.status === 'failed' || h.status === 'interrupted';
      if (failed) failures += 1;
      else skipped += 1;
      const why = h.reason ?? h.status;
      suites.push(
        `  <testsuite name="${xmlAttr(h.host)}" tests="1" failures="${failed ? 1 : 0}" errors="0" skipped="${failed ? 0 : 1}" time="0" hostname="${xmlAttr(h.host)}">`,
        '    <properties>',
        `      <property name="stepwise.fleet.id" value="${xmlAttr(f.id)}"/>`,
        `      <property name="stepwise.fleet.host" value="${xmlAttr(h.host)}"/>`,
        `      <property name="stepwise.fleet.hostStatus" value="${xmlAttr(h.status)}"/>`,
        '    </properties>',
        `    <testcase name="${xmlAttr(`${h.host}: ${f.runbook}`)}" classname="${xmlAttr(f.runbook)}" time="0">`,
        failed ? `      <failure message="${xmlAttr(why)}" type="${xmlAttr(h.status)}">${xmlText(why)}</failure>` : `      <skipped message="${xmlAttr(why)}"/>`,
        '    </testcase>',
        '  </testsuite>',
      );
    }
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlAttr(`stepwise fleet ${f.id}`)}" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}

const CONTENT_TYPES: Record<FleetReportFormat, string> = {
  json: 'application/json; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  junit: 'application/xml; charset=utf-8',
};
const EXT: Record<FleetReportFormat, string> = { json: 'json', md: 'md', junit: 'junit.xml' };

export function exportFleet(
  deps: Pick<FleetsDeps, 'store' | 'catalog'>,
  history: RunHistory,
  id: string,
  format: FleetReportFormat,
): Outcome<{ body: string; contentType: string; filename: string }> {
  const view = fleetViewOf(deps, id);
  if (!view) return { ok: false, error: failure('NOT_FOUND', `no fleet ${JSON.stringify(id)}`) };
  const report = buildFleetReport(view, (runId) => {
    const r = history.report(runId);
    return r.ok ? r.value : undefined;
  });
  const body = format === 'json' ? JSON.stringify(report, null, 2) + '\n' : format === 'md' ? fleetToMarkdown(report) : fleetToJUnit(report);
  return { ok: true, value: { body, contentType: CONTENT_TYPES[format], filename: `${id}.${EXT[format]}` } };
}
