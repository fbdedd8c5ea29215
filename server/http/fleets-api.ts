// The fleet API (docs/api.md, Fleets): start a fleet over an inventory selector, read it (the
// hosts × steps matrix, counts, failure budget), list them, stop one, and its reports. Roles:
// reading is every role's, starting and stopping an operator's (auth.ts roleForMethod, checked
// for every /api request before it gets here).
import express, { type Request, type Response, type Router } from 'express';
import type { AppContext } from './context.ts';
import { failure } from '../errors.ts';
import { sendFailure } from './api.ts';
import type { Principal } from '../record/users.ts';
import type { Fleets } from '../run/fleet.ts';
import { RunHistory } from '../run/history.ts';
import { exportFleet, FLEET_REPORT_FORMATS, type FleetReportFormat } from '../report/fleet.ts';
import { fleetRollbackHosts, rollBackFleet } from '../run/rollback.ts';

// A list of fleets is for a page or a script, not an archive.
const LIST_DEFAULT = 50;
const LIST_MAX = 500;

function userOf(res: Response): string {
  const p = res.locals.principal as Principal | undefined;
  if (!p) throw new Error('no principal on an authenticated route');
  return p.user;
}

const REPORT_EXT: Record<string, FleetReportFormat> = { json: 'json', md: 'md', xml: 'junit' };

export function fleetsRouter(ctx: AppContext, fleets: Fleets): Router {
  const r = express.Router({ caseSensitive: true, strict: true });

  r.post('/fleets', (req: Request, res: Response) => {
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) return sendFailure(res, failure('BAD_REQUEST', 'body must be a JSON object'));
    if (typeof body.runbook !== 'string') return sendFailure(res, failure('BAD_REQUEST', 'runbook must be a runbook id', 'runbook'));
    if (body.target !== undefined && typeof body.target !== 'string') return sendFailure(res, failure('BAD_REQUEST', 'target must be a selector string like @group', 'target'));
    if (body.resume !== undefined && typeof body.resume !== 'string') return sendFailure(res, failure('BAD_REQUEST', 'resume must be the id of an earlier fleet', 'resume'));
    if (body.target === undefined && body.resume === undefined) return sendFailure(res, failure('BAD_REQUEST', 'target must be a selector like @group, @all, label=NAME or host1,host2', 'target'));
    const vars = body.vars ?? {};
    if (typeof vars !== 'object' || vars === null || Array.isArray(vars)) return sendFailure(res, failure('BAD_REQUEST', 'vars must be an object', 'vars'));
    if (body.lang !== undefined && typeof body.lang !== 'string') return sendFailure(res, failure('BAD_REQUEST', 'lang must be a language code, like ko', 'lang'));
    for (const k of ['confirm', 'converge'] as const) {
      if (body[k] !== undefined && typeof body[k] !== 'boolean') return sendFailure(res, failure('BAD_REQUEST', `${k} must be true or false`, k));
    }
    const started = fleets.start(
      {
        runbook: body.runbook,
        ...(body.target !== undefined ? { target: body.target as string } : {}),
        parallel: body.parallel,
        maxFail: body.maxFail,
        batches: body.batches,
        vars: vars as Record<string, unknown>,
        ...(body.lang !== undefined ? { lang: body.lang as string } : {}),
        confirm: body.confirm === true,
        converge: body.converge === true,
        ...(body.resume !== undefined ? { resume: body.resume as string } : {}),
      },
      userOf(res),
    );
    if (!started.ok) return sendFailure(res, started.error);
    const v = started.value.view();
    res.status(201).json({ id: v.id, runs: v.hosts.map((h) => ({ id: h.runId, host: h.host })) });
  });

  r.get('/fleets', (req, res) => {
    const raw = req.query.limit;
    let limit = LIST_DEFAULT;
    if (raw !== undefined) {
      if (typeof raw !== 'string' || !/^\d{1,6}$/.test(raw) || Number(raw) < 1) return sendFailure(res, failure('BAD_REQUEST', `limit must be a whole number from 1 to ${LIST_MAX}`, 'limit'));
      limit = Math.min(Number(raw), LIST_MAX);
    }
    res.json({
      fleets: fleets.list(limit).map(({ hosts: _hosts, steps: _steps, ...summary }) => summary),
    });
  });

  r.get('/fleets/:id', (req, res) => {
    const v = fleets.view(req.params.id);
    if (!v) return sendFailure(res, failure('NOT_FOUND', `no fleet ${JSON.stringify(req.params.id)}`));
    res.json(v);
  });

  // Stops it: nothing more starts (pending hosts skipped), running hosts' runs interrupted.
  r.post('/fleets/:id/stop', async (req, res) => {
    const id = req.params.id;
    if (!fleets.view(id)) return sendFailure(res, failure('NOT_FOUND', `no fleet ${JSON.stringify(id)}`));
    const live = fleets.get(id);
    if (live) await live.stop(`stopped by ${userOf(res)}`);
    res.json(fleets.view(id));
  });

  // Rolls back an ended fleet in which a step failed (server/run/rollback.ts): each host that
  // failed and each host that had passed the failed step, one after another, each in a new run.
  r.post('/fleets/:id/rollback', async (req, res) => {
    const id = req.params.id;
    const v = fleets.view(id);
    if (!v) return sendFailure(res, failure('NOT_FOUND', `no fleet ${JSON.stringify(id)}`));
    if (v.status === 'running') return sendFailure(res, failure('ROLLBACK_REFUSED', `fleet ${id} is still running: roll it back once it has ended`));
    const hosts = v.hosts.map((h) => ({ host: h.host, runId: h.runId, started: h.started, status: h.status, steps: h.steps }));
    if (v.status !== 'failed' || !fleetRollbackHosts(hosts).length) {
      return sendFailure(res, failure('ROLLBACK_REFUSED', `fleet ${id} has no failed step to roll back (its status is ${v.status})`));
    }
    const done = await rollBackFleet(ctx.runs, new RunHistory(ctx.store, ctx.catalog), hosts, userOf(res), { confirmed: req.body?.confirm === true });
    res.json({ fleet: id, hosts: done.map(({ host, outcome }) => (outcome.ok ? { host, ...outcome.value } : { host, error: outcome.error })) });
  });

  r.get('/fleets/:id/report.:ext', (req, res) => {
    const format = REPORT_EXT[req.params.ext!];
    if (!format) return sendFailure(res, failure('NOT_FOUND', `no report format .${req.params.ext}; use ${Object.keys(REPORT_EXT).map((e) => `report.${e}`).join(', ')}`));
    const out = exportFleet(fleets.deps, new RunHistory(ctx.store, ctx.catalog), req.params.id, format);
    if (!out.ok) return sendFailure(res, out.error);
    res.type(out.value.contentType).set('Content-Disposition', `inline; filename="${out.value.filename}"`).send(out.value.body);
  });

  return r;
}

export { FLEET_REPORT_FORMATS };
