// GET /join/<code>: a trainee's join link. The code is the seat's token: it signs the browser
// in with a session for that seat (like a sign-in link: straight away only on a navigation the
// person started or one from our own pages, else it asks first, with a button that POSTs),
// starts or resumes the seat's run and lands on its current step. Past STEPWISE_MAX_LABS the
// page shows the seat's place in the lab queue and asks again every few seconds.
import express, { type Request, type Response, type Router } from 'express';
import type { AppContext } from './context.ts';
import type { Views } from './render.ts';
import { directSignInAllowed, originAllowed } from './auth.ts';
import { requestTranslator } from './language.ts';
import { httpStatus } from '../errors.ts';
import type { Principal } from '../record/users.ts';

// A queued trainee's page asks again this often (the Refresh header: no script needed).
export const JOIN_REFRESH_SECONDS = 3;
// The join form posts the code back; nothing honest is longer.
const FORM_LIMIT = '4kb';

export function joinRouter(ctx: AppContext, views: Views): Router {
  const r = express.Router({ caseSensitive: true, strict: true });
  const form = express.urlencoded({ extended: false, limit: FORM_LIMIT, parameterLimit: 4 });

  const page = (req: Request, res: Response, status: number, data: Record<string, unknown>) => {
    const tr = requestTranslator(req);
    res.status(status).type('html').send(views.render('join', { title: data.className ? tr.t('join.title', { name: String(data.className) }) : tr.t('join.invalid'), ...data }, { ...res.locals, lang: tr.lang }));
  };

  /** The seat the code opens (throttled per address like any credential), or the page saying it does not. */
  const seatOf = (req: Request, res: Response, code: string): Principal | undefined => {
    const got = ctx.auth.signIn('token', code, req.socket.remoteAddress, true);
    if (got.ok && got.principal.role === 'trainee' && got.principal.seat) return got.principal;
    if (!got.ok && got.reason === 'throttled') res.set('Retry-After', String(Math.max(1, Math.ceil((got.retryAfterMs ?? 0) / 1000))));
    page(req, res, httpStatus(got.ok || got.reason === 'wrong' ? 'NOT_FOUND' : 'THROTTLED'), { invalid: true });
    return undefined;
  };

  const enter = async (req: Request, res: Response, seat: Principal, code: string) => {
    // A browser already signed in for this seat keeps its session (a queued page reloads often).
    const current = ctx.auth.authenticate(req);
    const same = current.ok && current.via === 'cookie' && current.principal.seat?.classId === seat.seat!.classId && current.principal.seat?.trainee === seat.seat!.trainee;
    if (!same) {
      const opened = ctx.auth.openSession(seat);
      res.append('Set-Cookie', opened.setCookie);
      ctx.log.info('signed in', { user: seat.user, role: seat.role, with: 'join link' });
    }
    const c = ctx.classes.get(seat.seat!.classId)!;
    const out = await ctx.classes.join(c.id, seat.seat!.trainee);
    const tr = requestTranslator(req);
    if (!out.ok) return page(req, res, httpStatus(out.error.code), { className: c.name, trainee: seat.seat!.trainee, error: out.error.code === 'CLASS_ENDED' ? tr.t('class.ended') : tr.t('join.failed', { message: out.error.message }) });
    if ('queued' in out.value) {
      res.set('Refresh', `${JOIN_REFRESH_SECONDS}; url=${req.baseUrl}/join/${encodeURIComponent(code)}`);
      return page(req, res, 202, { className: c.name, trainee: seat.seat!.trainee, queued: out.value.queued, refreshSeconds: JOIN_REFRESH_SECONDS });
    }
    // The run's page redirects to the step the trainee is at.
    res.redirect(303, `/runs/${encodeURIComponent(out.value.runId)}`);
  };

  r.get('/join/:code', async (req, res) => {
    const code = req.params.code;
    const seat = seatOf(req, res, code);
    if (!seat) return;
    if (!directSignInAllowed(req)) {
      // Another site's link must not sign this browser in unasked (login CSRF): ask first.
      const c = ctx.classes.get(seat.seat!.classId)!;
      return page(req, res, 200, { className: c.name, trainee: seat.seat!.trainee, confirm: { code } });
    }
    await enter(req, res, seat, code);
  });

  r.post('/join/:code', form, async (req, res) => {
    // Only our own join page posts here (Sec-Fetch-Site, else Origin), as for /signin.
    const site = req.headers['sec-fetch-site'];
    if (!(site === undefined ? originAllowed(req) : site === 'same-origin')) return page(req, res, httpStatus('FORBIDDEN'), { invalid: true });
    const seat = seatOf(req, res, req.params.code);
    if (!seat) return;
    await enter(req, res, seat, req.params.code);
  });

  return r;
}
