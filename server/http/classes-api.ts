// The classes API (docs/api.md, Classes; docs/classroom.md): classes and their seats, joining,
// progress and the class report, the trainer's take-over, hand-back and messages, and the
// hints and solutions of a run's steps. Who may do what is decided by the Classroom
// (server/class/classroom.ts): a class's trainer or an admin manages it; a seat (role trainee)
// reaches only what server/class/seat-access.ts lists, checked before any route runs.
import express, { type Request, type Response, type Router } from 'express';
import type { AppContext } from './context.ts';
import { sendFailure } from './api.ts';
import { principal } from './tokens.ts';
import { failure } from '../errors.ts';
import { isRunId } from '../record/ids.ts';
import type { Classroom } from '../class/classroom.ts';

/** The address a browser opens to take a seat: the seat token is the join code. */
export function joinPath(token: string): string {
  return `/join/${encodeURIComponent(token)}`;
}

function origin(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

export function classesRouter(ctx: AppContext, classes: Classroom): Router {
  const r = express.Router({ caseSensitive: true, strict: true }); // one resource, one URL

  /** The class `req.params.id` when the request's principal manages it (its trainer, an admin); else answered. */
  const managed = (req: Request, res: Response) => {
    const m = classes.managed(req.params.id as string, principal(res));
    if (!m.ok) {
      sendFailure(res, m.error);
      return undefined;
    }
    return m.value;
  };

  r.post('/classes', (req, res) => {
    const p = principal(res);
    if (!classes.isTrainer(p)) return sendFailure(res, failure('FORBIDDEN', `creating a class needs the trainer or admin role (you are ${p.role})`));
    const parsed = classes.parseCreate(req.body);
    if (!parsed.ok) return sendFailure(res, parsed.error);
    const made = classes.create(parsed.value, p);
    if (!made.ok) return sendFailure(res, made.error);
    const base = origin(req);
    res.status(201).json({
      id: made.value.id,
      seats: made.value.seats.map((s) => ({ trainee: s.trainee, token: s.token, joinUrl: base + joinPath(s.token) })),
    });
  });

  r.get('/classes', (_req, res) => {
    const list = classes.list(principal(res));
    if (!list.ok) return sendFailure(res, list.error);
    res.json({ classes: list.value });
  });

  r.get('/classes/:id', (req, res) => {
    const p = principal(res);
    if (p.role === 'trainee') {
      // The guard let a seat through only to its own class: what it sees of it.
      const c = classes.get(req.params.id);
      if (!c || p.seat?.classId !== c.id) return sendFailure(res, failure('NOT_FOUND', `no class ${JSON.stringify(req.params.id)}`));
      return res.json(classes.traineeView(c, p.seat.trainee));
    }
    const c = managed(req, res);
    if (c) res.json(classes.view(c));
  });

  r.delete('/classes/:id', (req, res) => {
    const c = managed(req, res);
    if (!c) return;
    const out = classes.end(c.id, principal(res).user);
    if (!out.ok) return sendFailure(res, out.error);
    res.json(out.value);
  });

  r.post('/classes/:id/join', async (req, res) => {
    const p = principal(res);
    if (p.role !== 'trainee' || p.seat?.classId !== req.params.id) {
      return sendFailure(res, failure('FORBIDDEN', 'joining a class takes one of its seat tokens (Authorization: Bearer <seat token>)'));
    }
    const out = await classes.join(p.seat.classId, p.seat.trainee);
    if (!out.ok) return sendFailure(res, out.error);
    if ('queued' in out.value) return res.status(202).json(out.value);
    res.json(out.value);
  });

  r.get('/classes/:id/progress', (req, res) => {
    const c = managed(req, res);
    if (c) res.json(classes.progress(c));
  });

  r.get('/classes/:id/report.:format', (req, res) => {
    const c = managed(req, res);
    if (!c) return;
    const format = req.params.format;
    if (format !== 'csv' && format !== 'md') return sendFailure(res, failure('BAD_REQUEST', `unknown class report format ${JSON.stringify(format)}; use csv or md`, 'format'));
    const body = classes.report(c, format);
    res
      .set('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'text/markdown; charset=utf-8')
      .attachment(`${c.id}-report.${format}`)
      .send(body);
  });

  r.get('/classes/:id/messages', (req, res) => {
    const p = principal(res);
    if (p.role !== 'trainee' && !managed(req, res)) return;
    if (p.role === 'trainee' && p.seat?.classId !== req.params.id) return sendFailure(res, failure('NOT_FOUND', `no class ${JSON.stringify(req.params.id)}`));
    res.json({ messages: classes.messages(req.params.id) });
  });

  r.post('/classes/:id/messages', (req, res) => {
    const c = managed(req, res);
    if (!c) return;
    const out = classes.message(c, principal(res), (req.body as Record<string, unknown> | undefined)?.text);
    if (!out.ok) return sendFailure(res, out.error);
    res.status(201).json(out.value);
  });

  r.post('/classes/:id/trainees/:trainee/takeover', (req, res) => {
    const c = managed(req, res);
    if (!c) return;
    const out = classes.takeOver(c, req.params.trainee, principal(res));
    if (!out.ok) return sendFailure(res, out.error);
    res.json(out.value);
  });

  r.post('/classes/:id/trainees/:trainee/handback', (req, res) => {
    const c = managed(req, res);
    if (!c) return;
    const out = classes.handBack(c, req.params.trainee, principal(res));
    if (!out.ok) return sendFailure(res, out.error);
    res.json(out.value);
  });

  // Hints and solutions of any run's steps (a class run's: its seat, its trainer, an admin).
  r.get('/runs/:id/steps/:stepId/hints', (req, res) => {
    if (!isRunId(req.params.id)) return sendFailure(res, failure('NOT_FOUND', `no run ${JSON.stringify(req.params.id)}`));
    const out = classes.hints(req.params.id, req.params.stepId, principal(res));
    if (!out.ok) return sendFailure(res, out.error);
    res.json(out.value);
  });

  r.post('/runs/:id/steps/:stepId/hints', (req, res) => {
    if (!isRunId(req.params.id)) return sendFailure(res, failure('NOT_FOUND', `no run ${JSON.stringify(req.params.id)}`));
    const out = classes.revealHint(req.params.id, req.params.stepId, principal(res));
    if (!out.ok) return sendFailure(res, out.error);
    res.json(out.value);
  });

  r.post('/runs/:id/steps/:stepId/solution', (req, res) => {
    if (!isRunId(req.params.id)) return sendFailure(res, failure('NOT_FOUND', `no run ${JSON.stringify(req.params.id)}`));
    const out = classes.revealSolution(req.params.id, req.params.stepId, principal(res));
    if (!out.ok) return sendFailure(res, out.error);
    res.json(out.value);
  });

  return r;
}
