// Authentication for HTTP requests and websocket upgrades: who a request is (its Principal),
// the Origin check, the session cookie and the CSRF token of cookie sessions.
//
// A request carries a token as a bearer header, the `stepwise_token` cookie or `?token=`.
// The token is either the server's startup token (STEPWISE_TOKEN or generated; the built-in
// admin) or one issued by `stepwise token create` (server/record/users.ts). Comparisons are
// of sha256 digests with timingSafeEqual, so neither a token's length nor a shared prefix
// shows in the timing.
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parseCookie, stringifySetCookie } from 'cookie';
import { STARTUP_TOKEN_ID, tokenDigest, type Principal, type Role, type Users } from '../record/users.ts';

export type { Principal, Role } from '../record/users.ts';

export const COOKIE_NAME = 'stepwise_token';
/** The header a cookie-authenticated state-changing request must carry (see csrfToken). */
export const CSRF_HEADER = 'x-csrf-token';

export function generateToken(): string {
  return crypto.randomBytes(24).toString('base64url');
}

export type Via = 'bearer' | 'cookie' | 'query';
export type Credential = { via: Via; token: string };

function bearerOf(req: IncomingMessage): string | undefined {
  // Another scheme (Basic from a proxy in front) is not ours: the cookie still counts then.
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/** Every token a request carries, in order: bearer header, then cookie, then `?token=`. */
export function credentialsOf(req: IncomingMessage, url: URL): Credential[] {
  const out: Credential[] = [];
  const bearer = bearerOf(req);
  if (bearer !== undefined) out.push({ via: 'bearer', token: bearer });
  const cookie = parseCookie(req.headers.cookie ?? '')[COOKIE_NAME];
  if (cookie) out.push({ via: 'cookie', token: cookie });
  const q = url.searchParams.get('token');
  if (q) out.push({ via: 'query', token: q });
  return out;
}

/** A browser's Origin must be this server itself (cross-site websocket hijacking). */
export function originAllowed(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true; // not a browser: the token alone decides
  const host = req.headers.host;
  if (!host) return false;
  return origin === `http://${host}` || origin === `https://${host}`;
}

// A session cookie: not readable by scripts, and never sent on another site's requests.
const COOKIE_OPTIONS = { path: '/', httpOnly: true, sameSite: 'strict' } as const;

export function authCookie(token: string): string {
  return stringifySetCookie(COOKIE_NAME, token, COOKIE_OPTIONS);
}

/** Removes a cookie that no longer signs in (a revoked token, an old server's token). */
export function clearAuthCookie(): string {
  return stringifySetCookie(COOKIE_NAME, '', { ...COOKIE_OPTIONS, maxAge: 0 });
}

/**
 * A path on this server, safe as a redirect target or form action: `//host` and `/\host`
 * (which a browser reads as another host) collapse to one leading slash.
 */
export function localPath(p: string): string {
  return '/' + p.replace(/^[/\\]+/, '');
}

export interface Authenticated {
  principal: Principal;
  /** How the token that decided came: only a cookie session needs the CSRF token. */
  via: Via;
  token: string;
}

export interface AuthOptions {
  /** The startup token: the built-in admin. */
  token: string;
  /** The built-in admin's user name (STEPWISE_USER or the OS user). */
  adminUser: string;
  users: Users;
  /** Keys the CSRF tokens; random per process when absent. */
  secret?: Buffer;
}

export class Auth {
  private readonly startupDigest: Buffer;
  private readonly secret: Buffer;
  private readonly admin: Principal;

  constructor(private readonly o: AuthOptions) {
    this.startupDigest = tokenDigest(o.token);
    this.secret = o.secret ?? crypto.randomBytes(32);
    this.admin = { user: o.adminUser, role: 'admin', tokenId: STARTUP_TOKEN_ID };
  }

  /** The principal a token stands for: the startup token, else an issued, unrevoked one. */
  resolveToken(token: string | undefined): Principal | undefined {
    if (typeof token !== 'string' || token === '') return undefined;
    if (crypto.timingSafeEqual(tokenDigest(token), this.startupDigest)) return { ...this.admin };
    return this.o.users.resolve(token);
  }

  /**
   * Who a request is, and by which credential. A bearer header decides alone (a wrong one is
   * not rescued by a cookie); otherwise the cookie if it is valid, else `?token=` — so a
   * stale cookie never blocks signing in with a fresh link, and a link cannot replace the
   * identity of a browser that is already signed in.
   */
  authenticate(req: IncomingMessage, url: URL): Authenticated | undefined {
    for (const c of credentialsOf(req, url)) {
      const principal = this.resolveToken(c.token);
      if (principal) return { principal, via: c.via, token: c.token };
      if (c.via === 'bearer') return undefined;
    }
    return undefined;
  }

  /**
   * For the websocket gateway: the principal of an upgrade request (same rules as HTTP),
   * or undefined when it carries no valid token. The Origin check is separate (originAllowed).
   */
  readonly principalOf = (req: IncomingMessage, url: URL): Principal | undefined => this.authenticate(req, url)?.principal;

  /** The CSRF token of a session: HMAC(server secret, token id); pages carry it in a meta tag. */
  csrfToken(p: Principal): string {
    return crypto.createHmac('sha256', this.secret).update(`csrf\0${p.tokenId}`).digest('base64url');
  }

  csrfValid(p: Principal, given: string | string[] | undefined): boolean {
    if (typeof given !== 'string' || given.length > 256) return false;
    const a = crypto.createHash('sha256').update(given).digest();
    const b = crypto.createHash('sha256').update(this.csrfToken(p)).digest();
    return crypto.timingSafeEqual(a, b);
  }
}

export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The least role a request needs by its method: reading is for everyone signed in. */
export function roleForMethod(method: string): Role {
  return SAFE_METHODS.has(method) ? 'viewer' : 'operator';
}
