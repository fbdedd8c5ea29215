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
import { pageLanguage } from './language.ts';
import { httpStatus, failure } from '../errors.ts';
import { EN, isLang, translator, type Translator } from '../../common/i18n/index.ts';
import { roleAtLeast, type Principal } from '../record/users.ts';
import type { Fleets } from '../run/fleet.ts';
import type { MatrixSource } from './matrix-feed.ts';
import type { FleetPageData } from '../../common/matrix.ts';
import { fleetMatrix } from './live-matrices.ts';

export interface LivePagesDeps {
  fleets?: Fleets;
}

const NOOP = { dispose() {} };

/** Registers the matrix sources with the gateway and returns the pages' routes. */
export function livePages(ctx: AppContext, views: Views, gateway: Gateway, deps: LivePagesDeps): Router {
  const { fleets } = deps;
  // Fleets: every token role may watch one (like runs); a trainee's seat may not.
  if (fleets) {
    gateway.matrices.register('fleets', (id, p) => {
      if (!roleAtLeast(p.role, 'viewer')) return { ok: false, error: failure('FORBIDDEN', `${p.user} has the ${p.role} role: watching a fleet needs viewer`) };
      if (!fleets.view(id)) return { ok: false, error: failure('NOT_FOUND', `no fleet ${JSON.stringify(id)}`) };
      return { ok: true, value: fleetSource(fleets, id) };
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

  return r;
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
