// Authentication for HTTP requests and websocket upgrades: who a request is (its Principal),
// the Origin check, browser sessions, sign-in and the CSRF token of cookie sessions.
//
// A request is authenticated by a bearer token or by the `stepwise_session` cookie. A token is
// either the server's startup token (STEPWISE_TOKEN or generated; the built-in admin) or one
// issued by `stepwise token create` (server/record/users.ts). A browser signs in once — with
// a one-time code from the startup URL, or with a token typed into the sign-in form or put in
// a page link — and from then on carries only a session id (server/http/sessions.ts): the
// token never sits in a cookie, which browsers also send to every other port of the host.
// Token comparisons are of sha256 digests with timingSafeEqual, so neither a token's length
// nor a shared prefix shows in the timing; failed attempts are throttled per address.
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parseCookie, stringifySetCookie } from 'cookie';
import { STARTUP_TOKEN_ID, tokenDigest, type Principal, type Role, type Users } from '../record/users.ts';
import { Sessions, type SessionOptions } from './sessions.ts';
import { SignInCodes } from './signin-codes.ts';
import { FailureThrottle, type ThrottleOptions } from './throttle.ts';

export type { Principal, Role } from '../record/users.ts';

export const COOKIE_NAME = 'stepwise_session';
/** The cookie of earlier versions, which held the token itself: cleared wherever it is seen. */
export const LEGACY_COOKIE_NAME = 'stepwise_token';
/** The header a cookie-authenticated state-changing request must carry (see csrfToken). */
export const CSRF_HEADER = 'x-csrf-token';
// 128 bits as base64url (6 bits a character): the least a token may carry to be unguessable.
export const MIN_TOKEN_LENGTH = 22;

export function generateToken(): string {
  return crypto.randomBytes(24).toString('base64url');
}

/** Why a startup token is too weak to guard a shell, or undefined when it is long enough. */
export function weakTokenReason(token: string): string | undefined {
  if (token.length < MIN_TOKEN_LENGTH) {
    return `the token is ${token.length} characters: use at least ${MIN_TOKEN_LENGTH} random base64url characters (128 bits), e.g. $(head -c 24 /dev/urandom | base64 | tr '+/' '-_')`;
  }
  if (new Set(token).size < 8) return 'the token repeats too few characters to be random';
  return undefined;
}

export type Via = 'bearer' | 'cookie';

function bearerOf(req: IncomingMessage): string | undefined {
  // Another scheme (Basic from a proxy in front) is not ours: the cookie still counts then.
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  return parseCookie(req.headers.cookie ?? '')[name] || undefined;
}

/**
 * Whether a browser navigation may sign in straight from its URL: only one the user started
 * (typed, pasted, a bookmark: `Sec-Fetch-Site: none`) or one from this server's own pages.
 * A link on another site could otherwise sign the victim's browser in as the attacker.
 */
export function directSignInAllowed(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  return site === 'none' || site === 'same-origin';
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

export function sessionCookie(secret: string): string {
  return stringifySetCookie(COOKIE_NAME, secret, COOKIE_OPTIONS);
}

/** Removes a cookie that no longer signs in (an ended session, an earlier server's). */
export function clearSessionCookie(name = COOKIE_NAME): string {
  return stringifySetCookie(name, '', { ...COOKIE_OPTIONS, maxAge: 0 });
}

/**
 * A path on this server, safe as a redirect target or form action: `//host` and `/\host`
 * (which a browser reads as another host) collapse to one leading slash.
 */
export function localPath(p: string): string {
  return '/' + p.replace(/^[/\\]+/, '');
}

export type AuthResult =
  | { ok: true; principal: Principal; via: Via }
  /** none: no credential; wrong: one that does not sign in; throttled: not even looked at. */
  | { ok: false; reason: 'none' | 'wrong' | 'throttled'; retryAfterMs?: number; staleCookie?: boolean };

export type SignInResult = { ok: true; principal: Principal } | { ok: false; reason: 'wrong' | 'throttled'; retryAfterMs?: number };

export interface AuthOptions {
  /** The startup token: the built-in admin. */
  token: string;
  /** The built-in admin's user name (STEPWISE_USER or the OS user). */
  adminUser: string;
  users: Users;
  /** Keys the CSRF tokens; random per process when absent. */
  secret?: Buffer;
  sessions?: Omit<SessionOptions, 'tokenLive'>;
  throttle?: ThrottleOptions;
  codeTtlMs?: number;
  /** Class seat tokens (server/class/classroom.ts): whom one signs in as, and whether a seat's sessions may go on. */
  seats?: { principal(token: string): Principal | undefined; live(tokenId: string): boolean };
}

export class Auth {
  private readonly startupDigest: Buffer;
  private readonly secret: Buffer;
  private readonly admin: Principal;
  readonly sessions: Sessions;
  readonly codes: SignInCodes;
  readonly throttle: FailureThrottle;

  constructor(private readonly o: AuthOptions) {
    this.startupDigest = tokenDigest(o.token);
    this.secret = o.secret ?? crypto.randomBytes(32);
    this.admin = { user: o.adminUser, role: 'admin', tokenId: STARTUP_TOKEN_ID };
    this.sessions = new Sessions({ ...o.sessions, tokenLive: (id) => id === STARTUP_TOKEN_ID || o.users.getToken(id)?.revokedAt === null || (o.seats?.live(id) ?? false) });
    this.codes = new SignInCodes({ ttlMs: o.codeTtlMs });
    this.throttle = new FailureThrottle(o.throttle);
  }

  /** The principal a token stands for: the startup token, else an issued, unrevoked one. */
  resolveToken(token: string | undefined): Principal | undefined {
    if (typeof token !== 'string' || token === '') return undefined;
    if (crypto.timingSafeEqual(tokenDigest(token), this.startupDigest)) return { ...this.admin };
    return this.o.users.resolve(token) ?? this.o.seats?.principal(token);
  }

  /** The built-in admin's user name. */
  get adminUser(): string {
    return this.admin.user;
  }

  /** A one-time sign-in code for the built-in admin (the startup URL carries it). */
  adminSignInCode(): string {
    return this.codes.issue(this.admin);
  }

  /**
   * Who a request is. A bearer header decides alone (a wrong one is not rescued by a cookie),
   * and is throttled per address; otherwise the session cookie. A stale cookie (an ended
   * session, a restarted server) is not counted as a guess: the server chose its value.
   */
  authenticate(req: IncomingMessage): AuthResult {
    const bearer = bearerOf(req);
    const address = req.socket.remoteAddress;
    if (bearer !== undefined) {
      const wait = this.throttle.waitMs(address);
      if (wait > 0) return { ok: false, reason: 'throttled', retryAfterMs: wait };
      const principal = this.resolveToken(bearer);
      if (principal) return { ok: true, principal, via: 'bearer' };
      this.throttle.fail(address);
      return { ok: false, reason: 'wrong' };
    }
    const secret = cookieOf(req, COOKIE_NAME);
    if (secret !== undefined) {
      const principal = this.sessions.resolve(secret);
      if (principal) return { ok: true, principal, via: 'cookie' };
      return { ok: false, reason: 'wrong', staleCookie: true };
    }
    return { ok: false, reason: 'none' };
  }

  /**
   * Whom a sign-in credential (a one-time code or a token) signs in, throttled per address.
   * `use` spends a code; without it the code is only looked at (for "Sign in as …?").
   */
  signIn(kind: 'code' | 'token', value: string, address: string | undefined, use: boolean): SignInResult {
    const wait = this.throttle.waitMs(address);
    if (wait > 0) return { ok: false, reason: 'throttled', retryAfterMs: wait };
    const principal = kind === 'token' ? this.resolveToken(value) : use ? this.codes.redeem(value) : this.codes.peek(value);
    if (principal) return { ok: true, principal };
    this.throttle.fail(address);
    return { ok: false, reason: 'wrong' };
  }

  /** Opens a browser session; the returned Set-Cookie value is the only copy of its secret. */
  openSession(principal: Principal): { setCookie: string; principal: Principal } {
    const { secret, key } = this.sessions.open(principal);
    return { setCookie: sessionCookie(secret), principal: { ...principal, session: key } };
  }

  /**
   * For the websocket gateway: the principal of an upgrade request (bearer or session cookie,
   * never a URL), or why not. The Origin check is separate (originAllowed).
   */
  readonly principalOf = (req: IncomingMessage): AuthResult => this.authenticate(req);

  /** The CSRF token of a session: HMAC(server secret, session key, else token id); pages carry it in a meta tag. */
  csrfToken(p: Principal): string {
    return crypto.createHmac('sha256', this.secret).update(`csrf\0${p.session ?? p.tokenId}`).digest('base64url');
  }

  csrfValid(p: Principal, given: string | string[] | undefined): boolean {
    if (typeof given !== 'string' || given.length > 256) return false;
    const a = crypto.createHash('sha256').update(given).digest();
    const b = crypto.createHash('sha256').update(this.csrfToken(p)).digest();
    return crypto.timingSafeEqual(a, b);
  }
}

export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Deciding on an approval: the one change an approver may make (four eyes, server/run/approvals.ts). */
const APPROVAL_PATH = /^\/api\/runs\/[^/]+\/approvals$/;

/**
 * The least role a request needs by its method (and, for approvals, its path): reading is for
 * everyone signed in; who may approve is decided by the approvals themselves (approver or admin).
 */
export function roleForMethod(method: string, path = ''): Role {
  if (method === 'POST' && APPROVAL_PATH.test(path)) return 'approver';
  return SAFE_METHODS.has(method) ? 'viewer' : 'operator';
}
