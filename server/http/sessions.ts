// Browser sessions: what the cookie carries instead of a token. Browsers send a 127.0.0.1
// cookie to every port of that host, so whatever the cookie holds reaches any other local web
// app: it must not be the long-lived token. A session id is 32 random bytes, kept here only
// as its sha256 (a heap dump or a log of this map does not sign anyone in); it ends when idle
// too long, at an absolute limit, on sign-out, and when its token is revoked.
import crypto from 'node:crypto';
import type { Principal } from '../record/users.ts';

// A tab left open over lunch keeps its session; one left overnight does not.
export const SESSION_IDLE_MS = 2 * 60 * 60 * 1000;
// A working day: a stolen session cannot be kept alive by using it.
export const SESSION_ABSOLUTE_MS = 12 * 60 * 60 * 1000;
// Far above any honest number of signed-in browsers; bounds the memory a sign-in flood takes.
const MAX_SESSIONS = 10_000;

interface Entry {
  principal: Principal;
  createdAt: number;
  lastSeen: number;
}

export interface SessionOptions {
  idleMs?: number;
  absoluteMs?: number;
  /** Whether the token a session was opened with still signs in (not revoked). */
  tokenLive: (tokenId: string) => boolean;
  now?: () => number;
}

/** The public name of a session: the hex sha256 of its secret (never the secret itself). */
export function sessionKey(secret: string): string {
  return crypto.createHash('sha256').update(secret, 'utf8').digest('hex');
}

export class Sessions {
  private readonly byKey = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly o: SessionOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Opens a session for `principal`: the secret goes into the cookie and nowhere else. */
  open(principal: Principal): { secret: string; key: string } {
    this.sweep();
    if (this.byKey.size >= MAX_SESSIONS) {
      // The least recently used goes: a flood of sign-ins cannot grow the map without bound.
      let oldest: string | undefined;
      let seen = Infinity;
      for (const [k, e] of this.byKey) if (e.lastSeen < seen) [oldest, seen] = [k, e.lastSeen];
      if (oldest) this.byKey.delete(oldest);
    }
    const secret = crypto.randomBytes(32).toString('base64url');
    const key = sessionKey(secret);
    const t = this.now();
    this.byKey.set(key, { principal: { ...principal, session: key }, createdAt: t, lastSeen: t });
    return { secret, key };
  }

  /** The principal of a live session (and it counts as used now), or undefined. */
  resolve(secret: string | undefined): Principal | undefined {
    if (typeof secret !== 'string' || secret.length === 0 || secret.length > 128) return undefined;
    const key = sessionKey(secret);
    return this.use(key) ? { ...this.byKey.get(key)!.principal } : undefined;
  }

  /**
   * Whether the session `key` is still live, counting this as use: an open websocket keeps its
   * session from idling out, but not past the absolute limit.
   */
  use(key: string): boolean {
    const e = this.byKey.get(key);
    if (!e) return false;
    const t = this.now();
    if (t - e.lastSeen > (this.o.idleMs ?? SESSION_IDLE_MS) || t - e.createdAt > (this.o.absoluteMs ?? SESSION_ABSOLUTE_MS) || !this.o.tokenLive(e.principal.tokenId)) {
      this.byKey.delete(key);
      return false;
    }
    e.lastSeen = t;
    return true;
  }

  /** Signing out: ends one session. */
  end(key: string): boolean {
    return this.byKey.delete(key);
  }

  /** Every session opened with `tokenId` ends (the token was revoked). */
  endToken(tokenId: string): number {
    let n = 0;
    for (const [k, e] of this.byKey) if (e.principal.tokenId === tokenId && this.byKey.delete(k)) n++;
    return n;
  }

  get size(): number {
    return this.byKey.size;
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, e] of this.byKey) {
      if (t - e.lastSeen > (this.o.idleMs ?? SESSION_IDLE_MS) || t - e.createdAt > (this.o.absoluteMs ?? SESSION_ABSOLUTE_MS)) this.byKey.delete(k);
    }
  }
}
