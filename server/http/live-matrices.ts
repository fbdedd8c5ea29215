// The two live matrices as common/matrix.ts shapes: a fleet's hosts × steps (from its
// GET /api/fleets/:id view) and a class's trainees × steps (from its progress). Pure: views in,
// matrices out; the routes and the feeds (live-pages.ts) read the records.
import type { MatrixRow, MatrixSnapshot } from '../../common/matrix.ts';
import type { FleetView } from '../run/fleet-view.ts';

export function runHref(runId: string): string {
  return `/runs/${encodeURIComponent(runId)}`;
}

export function stepHref(runId: string, stepId: string): string {
  return `/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(stepId)}`;
}

/** A fleet as a matrix: one row per host (in the fleet's order), a cell per step linking to that host's step page. */
export function fleetMatrix(v: FleetView): MatrixSnapshot {
  return {
    columns: v.steps.map((s) => ({ id: s.id, title: s.title })),
    rows: v.hosts.map((h): MatrixRow => {
      const running = h.steps.find((s) => s.status === 'running')?.id;
      return {
        id: h.host,
        label: h.host,
        ...(h.started ? { runId: h.runId, href: runHref(h.runId) } : {}),
        status: h.status,
        ...(h.reason ? { reason: h.reason } : {}),
        // Batches are counted from 1 on the page (the records count from 0).
        batch: h.batch + 1,
        ...(running ? { current: running } : {}),
        cells: Object.fromEntries(h.steps.map((s) => [s.id, { status: s.status, ...(h.started ? { href: stepHref(h.runId, s.id) } : {}) }])),
      };
    }),
    summary: {
      status: v.status,
      reason: v.reason ?? null,
      live: v.live,
      passed: v.counts.passed,
      failed: v.counts.failed,
      skipped: v.counts.skipped,
      running: v.counts.running,
      pending: v.counts.pending,
      budgetAllowed: v.budget.allowed,
      budgetFailed: v.budget.failed,
      budgetExhausted: v.budget.exhausted,
      maxFail: v.budget.maxFail,
    },
  };
}

/** What the overview's fleet field suggests: @all, each @group, each label=NAME of the inventory. */
export function fleetChoices(inv: { hosts: ReadonlyMap<string, { labels: readonly string[] }>; groups: ReadonlyMap<string, readonly string[]> } | undefined): string[] {
  if (!inv || inv.hosts.size === 0) return [];
  const labels = new Set<string>();
  for (const h of inv.hosts.values()) for (const l of h.labels) labels.add(l);
  return ['@all', ...[...inv.groups.keys()].map((g) => `@${g}`), ...[...labels].sort().map((l) => `label=${l}`)];
}

/** What a class's progress gives the matrix (server/class/classroom.ts ClassProgress). */
export interface ClassProgressLike {
  status: string;
  steps: ReadonlyArray<{ id: string; title: string }>;
  trainees: ReadonlyArray<{
    trainee: string;
    runId: string | null;
    current: string | null;
    stuck: boolean;
    stuckReason: string | null;
    completion: number;
    queued: number | null;
    takenOverBy: string | null;
    steps: ReadonlyArray<{ id: string; status: string; attempts: number; hintsUsed: number }>;
  }>;
}

/**
 * A class as a matrix: one row per seat, a cell per step with its attempts and hints. The row's
 * status: not-joined, queued (waiting for a lab), passed (every step done), ended (the class
 * ended first), else running. Links are the page's (watch that trainee).
 */
export function classMatrix(p: ClassProgressLike): MatrixSnapshot {
  const open = p.status === 'open';
  const rows = p.trainees.map((t): MatrixRow => ({
    id: t.trainee,
    label: t.trainee,
    ...(t.runId ? { runId: t.runId } : {}),
    status: t.queued !== null ? 'queued' : !t.runId ? 'not-joined' : t.completion >= 1 ? 'passed' : open ? 'running' : 'ended',
    ...(t.current ? { current: t.current } : {}),
    ...(t.stuck ? { stuck: true, ...(t.stuckReason ? { stuckReason: t.stuckReason } : {}) } : {}),
    ...(t.takenOverBy ? { takenOver: true } : {}),
    ...(t.queued !== null ? { queued: t.queued } : {}),
    completion: Math.round(t.completion * 100) / 100,
    cells: Object.fromEntries(t.steps.map((s) => [s.id, { status: s.status, attempts: s.attempts, hints: s.hintsUsed }])),
  }));
  return {
    columns: p.steps.map((s) => ({ id: s.id, title: s.title })),
    rows,
    summary: {
      status: p.status,
      trainees: rows.length,
      joined: rows.filter((r) => r.runId).length,
      done: rows.filter((r) => r.status === 'passed').length,
      stuck: rows.filter((r) => r.stuck).length,
    },
  };
}
