// The door every page and API route goes through: signing in (a one-time code or a token,
// from a link or the sign-in form), signing out, and the per-request checks of who a request
// is and what it may do. The rules themselves live in auth.ts; this is their HTTP face.
import { requestLang, requestTranslator } from './language.ts';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { AppContext } from './context.ts';
import type { Views } from './render.ts';
import { sendFailure } from './api.ts';
import { failure, httpStatus } from '../errors.ts';
import {
  clearSessionCookie, COOKIE_NAME, CSRF_HEADER, directSignInAllowed, LEGACY_COOKIE_NAME, localPath, originAllowed, roleForMethod, SAFE_METHODS,
  type SignInResult,
} from './auth.ts';
import { roleAtLeast, type Principal } from '../record/users.ts';
import { seatAllows } from '../class/seat-access.ts';

// The sign-in form sends a token and a path; nothing honest is longer.
const FORM_LIMIT = '4kb';

const retryAfterSeconds = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function isApiPath(pathname: string): boolean {
  return pathname === '/api' || pathname.startsWith('/api/');
}

/** The sign-in page: the form, a "Sign in as …?" question, or why signing in failed. */
function loginPage(res: Response, views: Views, status: number, data: Record<string, unknown>): void {
  // Sign-in comes before the pages' language step: the request's own language (cookie, Accept-Language).
  res.status(status).type('html').send(views.render('login', data, { ...res.locals, lang: requestLang(res.req) }));
}

/** A new session for `principal`: the cookie, the log line, and away to `next`. */
function startSession(ctx: AppContext, req: Request, res: Response, principal: Principal, how: string, next: string): void {
  const opened = ctx.auth.openSession(principal);
  res.append('Set-Cookie', opened.setCookie);
  if (req.headers.cookie?.includes(`${LEGACY_COOKIE_NAME}=`)) res.append('Set-Cookie', clearSessionCookie(LEGACY_COOKIE_NAME));
  ctx.log.info('signed in', { user: principal.user, role: principal.role, tokenId: principal.tokenId, with: how });
  res.redirect(303, next);
}

function refusedSignIn(res: Response, views: Views, r: Extract<SignInResult, { ok: false }>, next: string): void {
  if (r.reason === 'throttled') {
    res.set('Retry-After', retryAfterSeconds(r.retryAfterMs ?? 0));
    return loginPage(res, views, httpStatus('THROTTLED'), { throttled: retryAfterSeconds(r.retryAfterMs ?? 0), next });
  }
  loginPage(res, views, httpStatus('UNAUTHORIZED'), { wrong: true, next });
}

/**
 * POST /signin (the form, and the button of "Sign in as …?") and POST /signout. Both come
 * only from this server's own pages: a cross-site form posting here is refused, so another
 * site cannot sign a browser in as someone else, nor out.
 */
export function signInRouter(ctx: AppContext, views: Views): Router {
  const r = express.Router({ caseSensitive: true, strict: true });
  const form = express.urlencoded({ extended: false, limit: FORM_LIMIT, parameterLimit: 8 });
  // A browser says where a request comes from in Sec-Fetch-Site; our pages' forms send
  // `Origin: null` (they are served with Referrer-Policy: no-referrer), so Origin decides only
  // for a client that sends no Sec-Fetch-Site (an older browser, or no browser at all).
  const sameSite = (req: Request) => {
    const site = req.headers['sec-fetch-site'];
    return site === undefined ? originAllowed(req) : site === 'same-origin';
  };

  r.post('/signin', form, (req, res) => {
    if (!sameSite(req)) return sendFailure(res, failure('FORBIDDEN', 'sign-in from another site refused'));
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = typeof body.next === 'string' && !body.next.startsWith('/signin') ? localPath(body.next) : '/';
    const kind = typeof body.code === 'string' && body.code ? 'code' : typeof body.token === 'string' && body.token ? 'token' : undefined;
    if (!kind) return loginPage(res, views, httpStatus('UNAUTHORIZED'), { wrong: true, next });
    const got = ctx.auth.signIn(kind, body[kind] as string, req.socket.remoteAddress, true);
    if (!got.ok) return refusedSignIn(res, views, got, next);
    startSession(ctx, req, res, got.principal, kind, next);
  });

  r.post('/signout', form, (req, res) => {
    const found = ctx.auth.authenticate(req);
    if (!found.ok || found.via !== 'cookie' || !found.principal.session) return res.status(303).set('Location', '/').send();
    const given = (req.body as Record<string, unknown> | undefined)?.csrf ?? req.headers[CSRF_HEADER];
    if (!sameSite(req) || !ctx.auth.csrfValid(found.principal, typeof given === 'string' ? given : undefined)) {
      return sendFailure(res, failure('FORBIDDEN', 'missing or wrong CSRF token; reload the page'));
    }
    ctx.auth.sessions.end(found.principal.session);
    ctx.log.info('signed out', { user: found.principal.user, tokenId: found.principal.tokenId });
    res.append('Set-Cookie', clearSessionCookie());
    res.redirect(303, '/');
  });
  return r;
}

/**
 * Every route below this needs a principal: a bearer token or a session cookie. A page GET
 * may carry `?code=` or `?token=` to sign in: when the person opened the link themselves (or
 * it came from our own pages) it opens a session and redirects to the same URL without it;
 * from another site it only asks "Sign in as …?" with a button that POSTs. The API never
 * takes a credential in its URL. Then, in order:
 * - a cookie session's state-changing request must come from this origin, be JSON and carry
 *   the session's CSRF token (X-CSRF-Token, from the page's <meta name="csrf-token">);
 * - reading (GET/HEAD) is for every role, changing anything (POST/DELETE/…) needs operator;
 *   the token routes check admin themselves.
 * Pages get res.locals.csrfToken to embed.
 */
export function authenticate(ctx: AppContext, views: Views) {
  return (req: Request, res: Response, next: NextFunction) => {
    let url: URL;
    try {
      url = new URL(req.originalUrl, 'http://localhost');
    } catch {
      return sendFailure(res, failure('BAD_REQUEST', 'the request target is not a valid URL'));
    }
    const isApi = isApiPath(url.pathname);
    const inUrl = url.searchParams.has('code') ? 'code' : url.searchParams.has('token') ? 'token' : undefined;
    if (inUrl && isApi) {
      return sendFailure(res, failure('BAD_REQUEST', `the API takes no credential in its URL: send Authorization: Bearer <token>`, inUrl));
    }
    if (inUrl && req.method === 'GET') {
      const value = url.searchParams.get(inUrl) ?? '';
      url.searchParams.delete('code');
      url.searchParams.delete('token');
      const to = localPath(url.pathname) + url.search;
      const direct = directSignInAllowed(req);
      const got = ctx.auth.signIn(inUrl, value, req.socket.remoteAddress, direct);
      if (!got.ok) return refusedSignIn(res, views, got, localPath(url.pathname));
      if (direct) return startSession(ctx, req, res, got.principal, inUrl, to);
      // Another site's link: it must not replace this browser's session, nor open one unasked.
      return loginPage(res, views, 200, { confirm: { user: got.principal.user, role: got.principal.role, kind: inUrl, value }, next: to });
    }
    const found = ctx.auth.authenticate(req);
    if (req.headers.cookie?.includes(`${LEGACY_COOKIE_NAME}=`)) res.append('Set-Cookie', clearSessionCookie(LEGACY_COOKIE_NAME));
    if (!found.ok) {
      if (found.staleCookie) res.append('Set-Cookie', clearSessionCookie(COOKIE_NAME));
      if (found.reason === 'throttled') {
        const after = retryAfterSeconds(found.retryAfterMs ?? 0);
        res.set('Retry-After', after);
        if (isApi) return sendFailure(res, failure('THROTTLED', `too many failed sign-ins from this address: retry in ${after} s`));
        return loginPage(res, views, httpStatus('THROTTLED'), { throttled: after, next: localPath(url.pathname) });
      }
      if (isApi) return sendFailure(res, failure('UNAUTHORIZED', 'a valid token is required (Authorization: Bearer <token>)'));
      return loginPage(res, views, httpStatus('UNAUTHORIZED'), { wrong: found.reason === 'wrong' && !found.staleCookie, ended: !!found.staleCookie, next: localPath(url.pathname) });
    }
    const { principal, via } = found;
    res.locals.principal = principal;
    const changes = !SAFE_METHODS.has(req.method);
    if (changes && via === 'cookie') {
      if (!originAllowed(req)) return sendFailure(res, failure('FORBIDDEN', 'cross-origin request refused'));
      if (!req.is('application/json')) return sendFailure(res, failure('FORBIDDEN', 'state-changing requests must be JSON'));
      if (!ctx.auth.csrfValid(principal, req.headers[CSRF_HEADER])) {
        return sendFailure(res, failure('FORBIDDEN', 'missing or wrong CSRF token (X-CSRF-Token); reload the page'));
      }
    }
    if (principal.role === 'trainee') {
      // A class seat reaches its class, its runbook and its own runs, nothing else (server/class/seat-access.ts).
      const scope = ctx.classes.scopeOf(principal);
      if (!scope || !seatAllows(scope, req.method, url.pathname)) {
        if (isApi) return sendFailure(res, failure('FORBIDDEN', `${principal.user} is a class seat: it may use its class, its runbook and its own run only`));
        const tr = requestTranslator(req);
        return res.status(httpStatus('FORBIDDEN')).type('html').send(views.render('not-found', { title: tr.t('class.forbidden'), heading: tr.t('class.forbidden'), message: tr.t('class.forbiddenText') }, { ...res.locals, lang: tr.lang }));
      }
      res.locals.csrfToken = ctx.auth.csrfToken(principal);
      return next();
    }
    const needed = roleForMethod(req.method, req.originalUrl.split('?')[0]);
    if (!roleAtLeast(principal.role, needed)) {
      return sendFailure(res, failure('FORBIDDEN', `${principal.user} has the ${principal.role} role: this needs ${needed}`));
    }
    // A class run is acted on by its trainee, its class's trainer or an admin only: another
    // trainer (or any operator) may read it, not execute in it or end it. Approving a block
    // that waits (approve=) stays the approvers' (four eyes decides who, approvals.ts).
    const runPath = changes && !/^\/api\/runs\/[^/]+\/approvals$/.test(url.pathname) ? /^\/api\/runs\/([^/]+)(?:\/|$)/.exec(url.pathname) : null;
    if (runPath && !ctx.classes.mayHoldKeyboard(safeDecode(runPath[1]!), principal)) {
      return sendFailure(res, failure('FORBIDDEN', `run ${runPath[1]} is a class run: only its trainee, the class's trainer or an admin may act on it`));
    }
    res.locals.csrfToken = ctx.auth.csrfToken(principal);
    next();
  };
}
