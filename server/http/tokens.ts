// Token management over HTTP (admin only) and `GET /api/me` (anyone signed in).
// The same operations as `stepwise token create|list|revoke`; a new token is in the
// response of its creation and nowhere else.
import express, { type Request, type Response, type Router } from 'express';
import type { AppContext } from './context.ts';
import { sendFailure } from './api.ts';
import { failure } from '../errors.ts';
import { isRole, isTokenId, roleAtLeast, ROLES, type Principal } from '../record/users.ts';

export function principal(res: Response): Principal {
  const p = res.locals.principal as Principal | undefined;
  // The auth middleware runs before every API route; a route without one is a wiring bug.
  if (!p) throw new Error('no principal on an authenticated route');
  return p;
}

export function tokensRouter(ctx: AppContext): Router {
  const r = express.Router({ caseSensitive: true, strict: true }); // one resource, one URL

  r.get('/me', (_req, res) => {
    const p = principal(res);
    res.json({ user: p.user, role: p.role, tokenId: p.tokenId });
  });

  const adminOnly = (_req: Request, res: Response, next: () => void) => {
    const p = principal(res);
    if (!roleAtLeast(p.role, 'admin')) return sendFailure(res, failure('FORBIDDEN', `managing tokens needs the admin role (you are ${p.role})`));
    next();
  };

  r.get('/tokens', adminOnly, (_req, res) => {
    res.json({ tokens: ctx.users.listTokens() });
  });

  r.post('/tokens', adminOnly, (req, res) => {
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) return sendFailure(res, failure('BAD_REQUEST', 'body must be a JSON object'));
    if (typeof body.user !== 'string') return sendFailure(res, failure('BAD_REQUEST', 'user must be a string', 'user'));
    if (!isRole(body.role)) return sendFailure(res, failure('BAD_REQUEST', `role must be one of ${ROLES.join(', ')}`, 'role'));
    const made = ctx.users.createToken(body.user, body.role);
    if (!made.ok) return sendFailure(res, made.error);
    const by = principal(res);
    ctx.log.info('token created', { id: made.value.info.id, user: made.value.info.user, role: made.value.info.role, by: by.user });
    res.status(201).json({ ...made.value.info, token: made.value.token });
  });

  r.delete('/tokens/:id', adminOnly, (req, res) => {
    const id = req.params.id as string;
    const out = isTokenId(id) ? ctx.users.revokeToken(id) : 'unknown';
    if (out === 'unknown') return sendFailure(res, failure('NOT_FOUND', `no token ${JSON.stringify(id)}`));
    // Sessions check their token on every use anyway; ending them now frees them at once.
    const ended = ctx.auth.sessions.endToken(id);
    ctx.log.info('token revoked', { id, by: principal(res).user, sessionsEnded: ended });
    res.json(ctx.users.getToken(id));
  });

  return r;
}
