// The live dashboards: the fleet page (/fleets/:id) and the class pages (/classes,
// /classes/:id, the trainee's /join landing), and the sources of their live matrices, which
// the gateway serves at /ws/fleets/:id and /ws/classes/:id (matrix-feed.ts). The page renders
// the matrix as it is now (page data); the browser keeps it current from the socket.
import express, { type Response, type Router } from 'express';
import type { AppContext } from './context.ts';
import type { Views } from './render.ts';
import type { Gateway } from './gateway.ts';
import type { Crumb } from './pages.ts';
import { runbookHref, formatTime } from './pages.ts';
import { localizedFailure, pageLanguage } from './language.ts';
import { httpStatus, failure } from '../errors.ts';
import { EN, isLang, translator, type Translator } from '../../common/i18n/index.ts';
import { roleAtLeast, type Principal } from '../record/users.ts';
import type { Fleets } from '../run/fleet.ts';
import type { MatrixSource } from './matrix-feed.ts';
import type { ClassesPageData, ClassPageData, FleetPageData } from '../../common/matrix.ts';
import { classMatrix, fleetMatrix } from './live-matrices.ts';
import type { Classroom } from '../class/classroom.ts';

export interface LivePagesDeps {
  fleets?: Fleets;
  classes?: Classroom;
}

// "Stuck" moves with the clock (no step passed for N minutes): the class matrix is re-read this often even when nothing happened.
const CLASS_POLL_MS = 15_000;

const NOOP = { dispose() {} };

/** Registers the matrix sources with the gateway and returns the pages' routes. */
export function livePages(ctx: AppContext, views: Views, gateway: Gateway, deps: LivePagesDeps): Router {
  const { fleets, classes } = deps;
  // Fleets: every token role may watch one (like runs); a trainee's seat may not.
  if (fleets) {
    gateway.matrices.register('fleets', (id, p) => {
      if (!roleAtLeast(p.role, 'viewer')) return { ok: false, error: failure('FORBIDDEN', `${p.user} has the ${p.role} role: watching a fleet needs viewer`) };
      if (!fleets.view(id)) return { ok: false, error: failure('NOT_FOUND', `no fleet ${JSON.stringify(id)}`) };
      return { ok: true, value: fleetSource(fleets, id) };
    });
  }

  // A class: its trainer or an admin (Classroom.managed); a trainee, another trainer, a viewer are refused.
  if (classes) {
    gateway.matrices.register('classes', (id, p) => {
      const c = classes.managed(id, p);
      if (!c.ok) return c;
      return { ok: true, value: classSource(classes, id) };
    });
  }

  const r = express.Router({ caseSensitive: true, strict: true });
  r.use(pageLanguage);
  const trOf = (res: Response): Translator => (isLang(res.locals.lang) ? translator(res.locals.lang) : EN);
  const principalOf = (res: Response) => res.locals.principal as Principal;
  const notFound = (res: Response, heading: string, message: string) =>
    res.status(httpStatus('NOT_FOUND')).type('html').send(views.render('not-found', { title: heading, heading, message }, res.locals));

  if (fleets) {
    r.get('/fleets/:id', (req, res) => {
      const tr = trOf(res);
      const v = fleets.view(req.params.id);
      if (!v) return notFound(res, tr.t('fleet.notFound'), tr.t('fleet.notFoundText', { id: req.params.id }));
      const entry = ctx.catalog().get(v.runbook);
      const runbookTitle = entry?.runbook?.title ?? v.runbook;
      const matrix = fleetMatrix(v);
      const canStop = roleAtLeast(principalOf(res).role, 'operator');
      const pageData: FleetPageData = { fleetId: v.id, lang: tr.lang, matrix, canStop };
      res.type('html').send(
        views.render('fleet', {
          title: tr.t('fleet.title', { id: v.id }),
          crumbs: [
            { label: tr.t('nav.runbooks'), href: '/' },
            { label: runbookTitle, href: runbookHref(v.runbook) },
            { label: tr.t('fleet.title', { id: v.id }) },
          ] satisfies Crumb[],
          fleet: v,
          runbookTitle,
          runbookHref: runbookHref(v.runbook),
          started: formatTime(v.startedAt, tr),
          summary: matrix.summary,
          canStop: canStop && v.live && v.status === 'running',
          reportHref: `/api/fleets/${encodeURIComponent(v.id)}/report.json`,
          pageData,
        }, res.locals),
      );
    });
  }

  if (classes) {
    // The refusal's words in the page's language (the code's summary, then the specifics).
    const forbidden = (res: Response, message: string) => {
      const text = localizedFailure({ code: 'FORBIDDEN', message }, trOf(res)).message;
      res.status(httpStatus('FORBIDDEN')).type('html').send(views.render('not-found', { title: text, heading: text, message: text }, res.locals));
    };

    r.get('/classes', (_req, res) => {
      const tr = trOf(res);
      const p = principalOf(res);
      const list = classes.list(p);
      if (!list.ok) return forbidden(res, list.error.message);
      const catalog = ctx.catalog();
      const pageData: ClassesPageData = { lang: tr.lang };
      res.type('html').send(
        views.render('classes', {
          title: tr.t('classes.title'),
          crumbs: [{ label: tr.t('nav.runbooks'), href: '/' }, { label: tr.t('classes.title') }] satisfies Crumb[],
          classes: list.value.map((c) => ({
            ...c,
            href: `/classes/${encodeURIComponent(c.id)}`,
            created: formatTime(c.createdAt, tr),
            seatCount: c.seats.length,
            runbookTitle: catalog.get(c.runbook)?.runbook?.title ?? c.runbook,
          })),
          runbooks: catalog.entries.filter((e) => e.ok && e.runbook).map((e) => ({ id: e.id, title: e.runbook!.title })),
          targets: ctx.targetIds,
          pageData,
        }, res.locals),
      );
    });

    r.get('/classes/:id', (req, res) => {
      const tr = trOf(res);
      const p = principalOf(res);
      const c = classes.managed(req.params.id, p);
      if (!c.ok) {
        if (c.error.code === 'FORBIDDEN') return forbidden(res, c.error.message);
        return notFound(res, tr.t('class.notFound'), tr.t('class.notFoundText', { id: req.params.id }));
      }
      const view = classes.view(c.value);
      const matrix = classMatrix(classes.progress(c.value));
      const open = view.status === 'open';
      const pageData: ClassPageData = { classId: view.id, lang: tr.lang, matrix, user: p.user, open };
      const runbookTitle = ctx.catalog().get(view.runbook)?.runbook?.title ?? view.runbook;
      const base = `/api/classes/${encodeURIComponent(view.id)}`;
      res.type('html').send(
        views.render('class', {
          title: tr.t('class.title', { name: view.name }),
          crumbs: [
            { label: tr.t('nav.runbooks'), href: '/' },
            { label: tr.t('classes.title'), href: '/classes' },
            { label: view.name },
          ] satisfies Crumb[],
          cls: view,
          runbookTitle,
          runbookHref: runbookHref(view.runbook),
          open,
          stuck: Number(matrix.summary.stuck ?? 0),
          reportCsv: `${base}/report.csv`,
          reportMd: `${base}/report.md`,
          pageData,
        }, res.locals),
      );
    });
  }

  return r;
}

/** A class's matrix from its progress; its change feed signals, and the clock (stuck) too. */
function classSource(classes: Classroom, id: string): MatrixSource {
  return {
    snapshot: () => {
      const c = classes.get(id);
      if (!c) throw new Error(`class ${id} has no record`);
      return classMatrix(classes.progress(c));
    },
    subscribe: (changed) => classes.subscribe(id, () => changed()),
    pollMs: CLASS_POLL_MS,
  };
}

/** A fleet's matrix, read from its records; its change events (while it runs) signal the feed. */
function fleetSource(fleets: Fleets, id: string): MatrixSource {
  return {
    snapshot: () => {
      const v = fleets.view(id);
      if (!v) throw new Error(`fleet ${id} has no record`);
      return fleetMatrix(v);
    },
    subscribe: (changed) => fleets.get(id)?.subscribe(() => changed()) ?? NOOP,
  };
}
