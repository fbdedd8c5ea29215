// The JSON API (docs/api.md). Errors are `{error:{code,message,field}}` with a fitting status.
import fs from 'node:fs';
import express, { type Request, type Response, type Router } from 'express';
import type { AppContext } from './context.ts';
import { failure, type Code, type Failure } from '../errors.ts';
import { defaultUser } from '../run/runs.ts';
import { isRunId } from '../record/ids.ts';
import { exportRun, isReportFormat, REPORT_FORMATS } from '../report/export.ts';

const STATUS: Partial<Record<Code, number>> = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  UNKNOWN_RUNBOOK: 400,
  BROKEN_RUNBOOK: 400,
  VAR_PATTERN: 400,
  UNKNOWN_VAR: 400,
  UNKNOWN_TARGET: 400,
  BAD_REQUEST: 400,
  SESSION_ENDED: 409,
  SESSION_BUSY: 409,
  CONFIRM_REQUIRED: 409,
  RECORDING_FAILED: 500,
  PAYLOAD_TOO_LARGE: 413,
};

export function sendFailure(res: Response, f: Failure): void {
  res.status(STATUS[f.code] ?? 400).json({ error: f });
}

export function apiRouter(ctx: AppContext): Router {
  const r = express.Router();

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
    res.json({ id: e.id, file: e.file, ok: e.ok, runbook: e.runbook ?? null, diagnostics: e.diagnostics });
  });

  r.post('/runs', async (req: Request, res: Response) => {
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) return sendFailure(res, failure('BAD_REQUEST', 'body must be a JSON object'));
    const runbook = body.runbook;
    if (runbook !== null && typeof runbook !== 'string') return sendFailure(res, failure('BAD_REQUEST', 'runbook must be a runbook id or null', 'runbook'));
    const vars = body.vars ?? {};
    if (typeof vars !== 'object' || vars === null || Array.isArray(vars)) return sendFailure(res, failure('BAD_REQUEST', 'vars must be an object', 'vars'));
    if (body.target !== undefined && typeof body.target !== 'string') return sendFailure(res, failure('BAD_REQUEST', 'target must be a string', 'target'));
    const training = body.training === true;
    const created = await ctx.runs.create(
      { runbook, vars: vars as Record<string, unknown>, target: body.target as string | undefined, options: { training } },
      defaultUser(),
    );
    if (!created.ok) return sendFailure(res, created.error);
    const run = created.value;
    res.status(201).json({ id: run.id, runbook: run.runbook?.id ?? null, terminal: `/ws/runs/${run.id}` });
  });

  r.get('/runs', (req, res) => {
    const q = req.query;
    const runs = ctx.store.listRuns({
      runbookId: typeof q.runbook === 'string' ? q.runbook : undefined,
      status: typeof q.status === 'string' ? (q.status as never) : undefined,
      limit: typeof q.limit === 'string' && /^\d+$/.test(q.limit) ? Number(q.limit) : 200,
    });
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
    });
  });

  r.get('/runs/:id/recording.cast', (req, res) => {
    const run = isRunId(req.params.id) ? ctx.store.getRun(req.params.id) : undefined;
    if (!run?.castPath || !fs.existsSync(run.castPath)) return sendFailure(res, failure('NOT_FOUND', `no recording for run ${JSON.stringify(req.params.id)}`));
    ctx.runs.get(run.id)?.cast.flush();
    ctx.audit.append(run.id, 'recording-viewed', { by: defaultUser(), format: 'cast' });
    res.type('application/x-asciicast');
    fs.createReadStream(run.castPath).pipe(res);
  });

  r.get('/runs/:id/report.:format', (req, res) => {
    const { id, format } = req.params;
    if (!isRunId(id)) return sendFailure(res, failure('NOT_FOUND', `no run ${JSON.stringify(id)}`));
    if (!isReportFormat(format)) return sendFailure(res, failure('BAD_REQUEST', `unknown report format ${JSON.stringify(format)}; use ${REPORT_FORMATS.join(', ')}`, 'format'));
    ctx.runs.get(id)?.cast.flush(); // a live run: buffered recording onto disk first
    const out = exportRun(ctx.store, id, format, ctx.catalog());
    if (!out.ok) return sendFailure(res, out.error);
    ctx.audit.append(id, 'recording-viewed', { by: defaultUser(), format });
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
    const out = await run.executeStep(req.params.stepId, { confirmed: req.body?.confirm === true });
    if (!out.ok) return sendFailure(res, out.error);
    res.json(out.value);
  });

  r.post('/runs/:id/blocks/:blockId/execute', async (req, res) => {
    const run = ctx.runs.get(req.params.id);
    if (!run) return sendFailure(res, liveRunMissing(ctx, req.params.id));
    const out = await run.executeBlock(req.params.blockId, { confirmed: req.body?.confirm === true });
    if (!out.ok) return sendFailure(res, out.error);
    res.json(out.value);
  });

  r.use((req, res) => sendFailure(res, failure('NOT_FOUND', `no API route ${req.method} ${req.path}`)));
  return r;
}

function liveRunMissing(ctx: AppContext, id: string): Failure {
  const stored = isRunId(id) ? ctx.store.getRun(id) : undefined;
  return stored
    ? failure('SESSION_ENDED', `run ${id} has no live session (status ${stored.status})`)
    : failure('NOT_FOUND', `no run ${JSON.stringify(id)}`);
}
