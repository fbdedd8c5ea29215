// One-time sign-in codes: what a sign-in URL carries instead of a token. Browsers keep visited
// URLs in their history (Chromium keeps `/?token=…` despite the redirect that drops it), so a
// URL must not hold anything that still signs in later: a code is single use and short-lived.
// Only its sha256 is kept.
import crypto from 'node:crypto';
import type { Principal } from '../record/users.ts';

// Long enough to copy a URL from the terminal into a browser; short enough that a code found
// later in a history file or a scrollback is dead.
export const SIGNIN_CODE_TTL_MS = 15 * 60 * 1000;
// A server mints a code at startup and for tests; this bounds what a bug minting in a loop holds.
const MAX_CODES = 1000;

const digest = (code: string) => crypto.createHash('sha256').update(code, 'utf8').digest('hex');

export class SignInCodes {
  private readonly codes = new Map<string, { principal: Principal; expires: number }>();
  private readonly now: () => number;

  constructor(private readonly o: { ttlMs?: number; now?: () => number } = {}) {
    this.now = o.now ?? Date.now;
  }

  /** A new code (16 random bytes: 128 bits, base64url) that signs in once as `principal`. */
  issue(principal: Principal): string {
    const t = this.now();
    for (const [k, v] of this.codes) if (v.expires <= t) this.codes.delete(k);
    if (this.codes.size >= MAX_CODES) this.codes.delete(this.codes.keys().next().value!);
    const code = crypto.randomBytes(16).toString('base64url');
    this.codes.set(digest(code), { principal: { ...principal }, expires: t + (this.o.ttlMs ?? SIGNIN_CODE_TTL_MS) });
    return code;
  }

  /** Whom a code would sign in, without using it up (the "Sign in as …?" question). */
  peek(code: string): Principal | undefined {
    if (typeof code !== 'string' || code.length === 0 || code.length > 64) return undefined;
    const e = this.codes.get(digest(code));
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.codes.delete(digest(code));
      return undefined;
    }
    return { ...e.principal };
  }

  /** Uses a code up: its principal the first time, undefined ever after. */
  redeem(code: string): Principal | undefined {
    const p = this.peek(code);
    if (p) this.codes.delete(digest(code));
    return p;
  }
}
