// The JSON API (docs/api.md). Errors are `{error:{code,message,field}}` with a fitting status.
import fs from 'node:fs';
import { pipeline } from 'node:stream';
import express, { type Request, type Response, type Router } from 'express';
import type { AppContext } from './context.ts';
import { failure, httpStatus, type Failure } from '../errors.ts';
import { localizedFailure, requestTranslator } from './language.ts';
import type { Principal } from '../record/users.ts';
import { isRunId } from '../record/ids.ts';
import { CONTENT_TYPES, exportRun, isReportFormat, recordingFile, REPORT_FORMATS } from '../report/export.ts';
import { RunHistory } from '../run/history.ts';
import { buildEvidence, loadSigningKey } from '../report/evidence.ts';
import { Approvals } from '../run/approvals.ts';
import { loadPlayerAssets, type PlayerAssets } from '../report/html.ts';
import type { RunFilter, RunStatus } from '../record/store.ts';
import { resolveVars } from '../run/vars.ts';
import { planRun } from '../exec/plan.ts';
import { rollBackFinished, rollBackLive } from '../run/rollback.ts';
import { withoutAsides } from '../class/hints.ts';
import type { PlanResponse } from '../../common/page-data.ts';

/** Who made the request (the auth middleware's principal): what runs and the audit record. */
function userOf(res: Response): string {
  const p = res.locals.principal as Principal | undefined;
  if (!p) throw new Error('no principal on an authenticated route');
  return p.user;
}

export function sendFailure(res: Response, f: Failure): void {
  // `code` is the contract; `message` is in the reader's language (cookie, else Accept-Language).
  res.status(httpStatus(f.code)).json({ error: localizedFailure(f, requestTranslator(res.req)) });
}

export const RUN_STATUSES: readonly RunStatus[] = ['running', 'passed', 'failed', 'interrupted', 'ended', 'expired'];

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** `YYYY-MM-DD` → the first instant of the next day (UTC), so a date as upper bound includes that day. */
function dayAfter(date: string): string {
  const d = new Date(`${date}T00:00:00.000Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString();
}

function validInstant(v: string): boolean {
  return /^\d{4}-\d{2}-\d{2}/.test(v) && Number.isFinite(Date.parse(v));
}

export interface RunQuery {
  runbook?: string;
  user?: string;
  target?: string;
  status?: string;
  /** ISO 8601 date or date-time: runs started at or after it. */
  since?: string;
  /** ISO 8601 date-time (exclusive), or a date (that whole day included, UTC). */
  until?: string;
}

/**
 * The store filter for the runs list (`GET /api/runs` and the /runs page); empty values mean
 * "any". A failure names the field that is wrong.
 */
export function runFilter(q: RunQuery): { ok: true; filter: RunFilter } | { ok: false; error: Failure } {
  const filter: RunFilter = {};
  const given = (v: string | undefined) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  const runbook = given(q.runbook);
  if (runbook !== undefined) filter.runbookId = runbook;
  const user = given(q.user);
  if (user !== undefined) filter.user = user;
  const target = given(q.target);
  if (target !== undefined) filter.target = target;
  const status = given(q.status);
  if (status !== undefined) {
    if (!(RUN_STATUSES as readonly string[]).includes(status)) {
      return { ok: false, error: failure('BAD_REQUEST', `status must be one of ${RUN_STATUSES.join(', ')}`, 'status') };
    }
    filter.status = status as RunStatus;
  }
  const since = given(q.since);
  if (since !== undefined) {
    if (!validInstant(since)) return { ok: false, error: failure('BAD_REQUEST', 'since must be an ISO 8601 date or date-time', 'since') };
    filter.since = since;
  }
  const until = given(q.until);
  if (until !== undefined) {
    if (!validInstant(until)) return { ok: false, error: failure('BAD_REQUEST', 'until must be an ISO 8601 date or date-time', 'until') };
    filter.until = DATE_ONLY.test(until) ? dayAfter(until) : until;
  }
  return { ok: true, filter };
}

// The runs list: a page of recent runs by default; more than the max is one huge response.
const RUNS_LIMIT_DEFAULT = 200;
const RUNS_LIMIT_MAX = 1000;

/**
 * A count in a query parameter: absent or empty → `dflt`; a whole number from 1 up, clamped to
 * `max`; anything else (a sign, a fraction, a word, a repeated parameter) is a 400 naming it.
 */
export function countParam(v: unknown, name: string, dflt: number, max: number): { ok: true; value: number } | { ok: false; error: Failure } {
  if (v === undefined || v === '') return { ok: true, value: dflt };
  if (typeof v !== 'string' || !/^\d{1,400}$/.test(v) || Number(v) < 1) {
    return { ok: false, error: failure('BAD_REQUEST', `${name} must be a whole number from 1 to ${max}`, name) };
  }
  return { ok: true, value: Math.min(Number(v), max) };
}

export function apiRouter(ctx: AppContext): Router {
  const r = express.Router({ caseSensitive: true, strict: true }); // one resource, one URL

  r.get('/runbooks', (_req, res) => {
    res.json({
      runbooks: ctx.catalog().entries.map((e) => ({
        id: e.id,
        file: e.file,
        ok: e.ok,
        title: e.runbook?.title ?? e.id,
        summary: e.runbook?.summary ?? '',
        section: e.runbook?.section ?? null,
        steps: e.runbook?.steps.length ?? 0,
        diagnostics: e.diagnostics,
      })),
    });
  });

  r.get('/runbooks/:id', (req, res) => {
    const e = ctx.catalog().get(req.params.id);
    if (!e) return sendFailure(res, failure('NOT_FOUND', `no runbook ${JSON.stringify(req.params.id)}`));
    // Hints and solutions are held back until revealed (server/class/hints.ts).
    res.json({ id: e.id, file: e.file, ok: e.ok, runbook: e.runbook ? withoutAsides(e.runbook) : null, diagnostics: e.diagnostics });
  });

  // What a run would do, without running anything: every block with its text (variables
  // substituted, secrets masked), skip reasons and which need confirmation.
  r.get('/runbooks/:id/plan', (req, res) => {
    const e = ctx.catalog().get(req.params.id);
    if (!e) return sendFailure(res, failure('NOT_FOUND', `no runbook ${JSON.stringify(req.params.id)}`));
    if (!e.ok || !e.runbook) return sendFailure(res, failure('BROKEN_RUNBOOK', `runbook ${e.id} has errors and cannot run`, 'runbook'));
    const vars: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(req.query)) {
      if (key.startsWith('vars.')) vars[key.slice('vars.'.length)] = value;
    }
    const resolved = resolveVars(e.runbook, vars);
    if (!resolved.ok) return sendFailure(res, resolved.error);
    const targetId = typeof req.query.target === 'string' && req.query.target !== '' ? req.query.target : 'local';
    const kind = Object.prototype.hasOwnProperty.call(ctx.targets, targetId) ? ctx.targets[targetId] : undefined;
    if (!kind) return sendFailure(res, failure('UNKNOWN_TARGET', `no target ${JSON.stringify(targetId)}; known: ${ctx.targetIds.join(', ')}`, 'target'));
    const target = kind.profile();
    // A runbook that spans hosts: `roles.NAME=TARGET` plans each block on its role's target.
    const roles: Record<string, ReturnType<typeof kind.profile>> = {};
    for (const [key, value] of Object.entries(req.query)) {
      if (!key.startsWith('roles.') || typeof value !== 'string') continue;
      const k = Object.prototype.hasOwnProperty.call(ctx.targets, value) ? ctx.targets[value] : undefined;
      if (!k) return sendFailure(res, failure('UNKNOWN_TARGET', `no target ${JSON.stringify(value)} for role ${key.slice('roles.'.length)}; known: ${ctx.targetIds.join(', ')}`, 'roles'));
      roles[key.slice('roles.'.length)] = k.profile();
    }
    const body: PlanResponse = {
      target: { id: target.id, platform: target.platform },
      steps: planRun(e.runbook, resolved.vars.masked, target, e.runbook.steps, Object.keys(roles).length ? { roles } : {}),
    };
    res.json(body);
  });

  r.post('/runs', async (req: Request, res: Response) => {
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) return sendFailure(res, failure('BAD_REQUEST', 'body must be a JSON object'));
    const runbook = body.runbook;
    if (runbook !== null && typeof runbook !== 'string') return sendFailure(res, failure('BAD_REQUEST', 'runbook must be a runbook id or null', 'runbook'));
    const vars = body.vars ?? {};
    if (typeof vars !== 'object' || vars === null || Array.isArray(vars)) return sendFailure(res, failure('BAD_REQUEST', 'vars must be an object', 'vars'));
    if (body.target !== undefined && typeof body.target !== 'string') return sendFailure(res, failure('BAD_REQUEST', 'target must be a string', 'target'));
    if (body.resume !== undefined && (typeof body.resume !== 'string' || !isRunId(body.resume))) {
      return sendFailure(res, failure('BAD_REQUEST', 'resume must be the id of an earlier run', 'resume'));
    }
    if (body.lang !== undefined && typeof body.lang !== 'string') return sendFailure(res, failure('BAD_REQUEST', 'lang must be a language code, like ko', 'lang'));
    // A runbook that spans hosts: {"source": "host1", ...}, each a target id (docs/format.md, Roles).
    const roles = body.roles;
    if (roles !== undefined && (typeof roles !== 'object' || roles === null || Array.isArray(roles) || !Object.values(roles).every((v) => typeof v === 'string'))) {
      return sendFailure(res, failure('BAD_REQUEST', 'roles must map each role to a target id, like {"source": "host1"}', 'roles'));
    }
    const training = body.training === true;
    const converge = body.converge === true;
    const created = await ctx.runs.create(
      {
        runbook,
        vars: vars as Record<string, unknown>,
        target: body.target as string | undefined,
        options: { training, ...(converge ? { converge } : {}) },
        ...(body.resume !== undefined ? { resume: body.resume as string } : {}),
        ...(body.lang !== undefined ? { lang: body.lang as string } : {}),
        ...(roles !== undefined ? { roles: { ...(roles as Record<string, string>) } } : {}),
      },
      userOf(res),
    );
    if (!created.ok) return sendFailure(res, created.error);
    const run = created.value;
    res.status(201).json({
      id: run.id,
      runbook: run.runbook?.id ?? null,
      terminal: `/ws/runs/${run.id}`,
      // A runbook that spans hosts: each role's terminal (the first's is `terminal`).
      ...(run.roles.length ? { terminals: Object.fromEntries(run.roles.map((r) => [r, `/ws/runs/${run.id}?terminal=${encodeURIComponent(r)}`])) } : {}),
      ...(run.resumedFrom ? { resumedFrom: run.resumedFrom } : {}),
    });
  });

  r.get('/runs', (req, res) => {
    const q = req.query;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const filter = runFilter({ runbook: str(q.runbook), user: str(q.user), target: str(q.target), status: str(q.status), since: str(q.since), until: str(q.until) });
    if (!filter.ok) return sendFailure(res, filter.error);
    const limit = countParam(q.limit, 'limit', RUNS_LIMIT_DEFAULT, RUNS_LIMIT_MAX);
    if (!limit.ok) return sendFailure(res, limit.error);
    const runs = ctx.store.listRuns({ ...filter.filter, limit: limit.value });
    res.json({ runs: runs.map((run) => ({ ...run, live: !!ctx.runs.get(run.id) })) });
  });

  r.get('/runs/:id', (req, res) => {
    const run = isRunId(req.params.id) ? ctx.store.getRun(req.params.id) : undefined;
    if (!run) return sendFailure(res, failure('NOT_FOUND', `no run ${JSON.stringify(req.params.id)}`));
    res.json({
      ...run,
      live: !!ctx.runs.get(run.id),
      steps: ctx.store.stepVerdicts(run.id),
      blocks: ctx.store.blockResults(run.id),
      // The run's status stays `running` while it waits (the reaper and resume know that one); this says it waits.
      awaitingApproval: new Approvals(ctx.store).pending(run.id),
      approvals: new Approvals(ctx.store).ofRun(run.id),
    });
  });

  r.get('/runs/:id/recording.cast', (req, res) => {
    const run = isRunId(req.params.id) ? ctx.store.getRun(req.params.id) : undefined;
    // A runbook that spans hosts: ?role=NAME is that role's recording (the first role's is the run's own).
    const role = typeof req.query.role === 'string' ? req.query.role : undefined;
    const roleCast = role === undefined ? undefined : (Array.isArray(run?.options.roles) ? (run!.options.roles as Array<{ role?: unknown; castPath?: unknown }>) : []).find((r) => r.role === role)?.castPath;
    const castPath = role === undefined ? run?.castPath : typeof roleCast === 'string' ? roleCast : undefined;
    if (!run || !castPath || !fs.existsSync(castPath)) return sendFailure(res, failure('NOT_FOUND', `no recording for run ${JSON.stringify(req.params.id)}${role !== undefined ? ` and role ${JSON.stringify(role.slice(0, 40))}` : ''}`));
    ctx.runs.get(run.id)?.flushRecording();
    ctx.audit.append(run.id, 'recording-viewed', { by: userOf(res), format: 'cast', ...(role !== undefined ? { role } : {}) });
    res.type('application/x-asciicast');
    // A client that hangs up mid-download, or a file that cannot be read: that response ends
    // (pipeline destroys both streams), the server does not — an unhandled stream error would.
    pipeline(fs.createReadStream(castPath), res, (err) => {
      if (err && err.code !== 'ERR_STREAM_PREMATURE_CLOSE') ctx.log.warn('recording download failed', { runId: run.id, error: err.message });
    });
  });

  // Four eyes: decisions on the approval a run waits for (the run polls them and records them).
  r.post('/runs/:id/approvals', (req, res) => {
    const { id } = req.params;
    if (!isRunId(id) || !ctx.store.getRun(id)) return sendFailure(res, failure('NOT_FOUND', `no run ${JSON.stringify(id)}`));
    const b = (req.body ?? {}) as { blockId?: unknown; decision?: unknown; comment?: unknown };
    if (b.decision !== 'approve' && b.decision !== 'reject') return sendFailure(res, failure('BAD_REQUEST', 'decision must be "approve" or "reject"', 'decision'));
    if (b.comment !== undefined && typeof b.comment !== 'string') return sendFailure(res, failure('BAD_REQUEST', 'comment must be a string', 'comment'));
    if (b.blockId !== undefined && typeof b.blockId !== 'string') return sendFailure(res, failure('BAD_REQUEST', 'blockId must be a string', 'blockId'));
    const out = new Approvals(ctx.store).decide(id, res.locals.principal as Principal, b.decision, b.comment ?? '', b.blockId);
    if (!out.ok) return sendFailure(res, out.error);
    res.json(out.value);
  });

  r.get('/approvals', (req, res) => {
    const approvals = new Approvals(ctx.store);
    // ?run=ID: every request of that run, decided or not; otherwise (?pending=1) the pending ones.
    res.json({ approvals: typeof req.query.run === 'string' ? approvals.ofRun(req.query.run) : approvals.pending() });
  });

  // The asciinema player inlined into each bundle's report.html: read once, when first asked for.
  let playerAssets: PlayerAssets | undefined;
  r.get('/runs/:id/evidence.zip', (req, res) => {
    const { id } = req.params;
    const run = isRunId(id) ? ctx.store.getRun(id) : undefined;
    if (!run) return sendFailure(res, failure('NOT_FOUND', `no run ${JSON.stringify(id)}`));
    const keyFile = process.env.STEPWISE_SIGNING_KEY;
    const key = keyFile ? loadSigningKey(keyFile) : undefined;
    if (key && !key.ok) {
      ctx.log.warn('evidence signing key unusable', { error: key.error.message });
      return sendFailure(res, failure('INTERNAL', 'the server\'s signing key cannot be used; see its log'));
    }
    // A running run is refused before its taking is recorded (buildEvidence says why).
    if (run.status === 'running') return sendFailure(res, failure('BAD_REQUEST', `run ${id} is still running: make its evidence bundle once it has ended`));
    // Recorded before the bundle is made, so the bundle's chain shows who took it.
    ctx.audit.append(id, 'recording-viewed', { by: userOf(res), format: 'evidence' });
    playerAssets ??= loadPlayerAssets();
    const out = buildEvidence(new RunHistory(ctx.store, ctx.catalog), id, { assets: playerAssets, ...(key?.ok ? { signingKey: key.value } : {}) });
    if (!out.ok) return sendFailure(res, out.error);
    res.set('content-type', 'application/zip').attachment(`${id}-evidence.zip`).send(out.value.zip);
  });

  r.get('/runs/:id/report.:format', (req, res) => {
    const { id, format } = req.params;
    if (!isRunId(id)) return sendFailure(res, failure('NOT_FOUND', `no run ${JSON.stringify(id)}`));
    if (!isReportFormat(format)) return sendFailure(res, failure('BAD_REQUEST', `unknown report format ${JSON.stringify(format)}; use ${REPORT_FORMATS.join(', ')}`, 'format'));
    ctx.runs.get(id)?.flushRecording(); // a live run: buffered recording onto disk first
    if (format === 'cast') return streamRecording(ctx, id, res);
    const out = exportRun(new RunHistory(ctx.store, ctx.catalog), id, format);
    if (!out.ok) return sendFailure(res, out.error);
    ctx.audit.append(id, 'recording-viewed', { by: userOf(res), format });
    res.set('content-type', out.contentType).attachment(out.filename).send(out.body);
  });

  r.delete('/runs/:id', (req, res) => {
    const run = isRunId(req.params.id) ? ctx.store.getRun(req.params.id) : undefined;
    if (!run) return sendFailure(res, failure('NOT_FOUND', `no run ${JSON.stringify(req.params.id)}`));
    ctx.runs.end(run.id);
    res.json(ctx.store.getRun(run.id));
  });

  r.post('/runs/:id/steps/:stepId/execute', async (req, res) => {
    const run = ctx.runs.get(req.params.id);
    if (!run) return sendFailure(res, liveRunMissing(ctx, req.params.id));
    const out = await run.executeStep(req.params.stepId, { confirmed: req.body?.confirm === true, by: userOf(res) });
    if (!out.ok) return sendFailure(res, out.error);
    res.json(out.value);
  });

  r.post('/runs/:id/blocks/:blockId/execute', async (req, res) => {
    const run = ctx.runs.get(req.params.id);
    if (!run) return sendFailure(res, liveRunMissing(ctx, req.params.id));
    const out = await run.executeBlock(req.params.blockId, { confirmed: req.body?.confirm === true, by: userOf(res) });
    if (!out.ok) return sendFailure(res, out.error);
    res.json(out.value);
  });

  // Roll back a failed run (server/run/rollback.ts): in its shell while it is live, else in a
  // new run linked to it; refused (ROLLBACK_REFUSED) unless it failed and was not rolled back.
  r.post('/runs/:id/rollback', async (req, res) => {
    const { id } = req.params;
    const record = isRunId(id) ? ctx.store.getRun(id) : undefined;
    if (!record) return sendFailure(res, failure('NOT_FOUND', `no run ${JSON.stringify(id)}`));
    const history = new RunHistory(ctx.store, ctx.catalog);
    const live = ctx.runs.get(id);
    const opts = { confirmed: req.body?.confirm === true, by: userOf(res) };
    const out = live ? await rollBackLive(live, history, opts) : await rollBackFinished(ctx.runs, history, id, opts.by, opts);
    if (!out.ok) return sendFailure(res, out.error);
    res.json(out.value);
  });

  r.use((req, res) => sendFailure(res, failure('NOT_FOUND', `no API route ${req.method} ${req.path}`)));
  return r;
}

/**
 * The cast export, streamed from its file: a long run's recording is tens of MB, which read
 * whole into memory would sit in the server's heap for the length of the download.
 */
function streamRecording(ctx: AppContext, id: string, res: Response): void {
  const run = ctx.store.getRun(id);
  if (!run) return sendFailure(res, failure('NOT_FOUND', `no run ${JSON.stringify(id)}`));
  const file = recordingFile(ctx.dataDir, run);
  if (!file) return sendFailure(res, failure('NOT_FOUND', `no recording for run ${JSON.stringify(id)}`));
  ctx.audit.append(id, 'recording-viewed', { by: userOf(res), format: 'cast' });
  res.attachment(`${id}.cast`).set('content-type', CONTENT_TYPES.cast); // attachment() would type it by extension
  pipeline(fs.createReadStream(file), res, (err) => {
    if (err && err.code !== 'ERR_STREAM_PREMATURE_CLOSE') ctx.log.warn('recording export failed', { runId: id, error: err.message });
  });
}

function liveRunMissing(ctx: AppContext, id: string): Failure {
  const stored = isRunId(id) ? ctx.store.getRun(id) : undefined;
  return stored
    ? failure('SESSION_ENDED', `run ${id} has no live session (status ${stored.status})`)
    : failure('NOT_FOUND', `no run ${JSON.stringify(id)}`);
}
