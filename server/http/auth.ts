// Token authentication for HTTP and websocket upgrades, and the Origin check.
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const COOKIE_NAME = 'stepwise_token';

export function generateToken(): string {
  return crypto.randomBytes(24).toString('base64url');
}

/** Constant-time comparison: hashing first makes the lengths equal too. */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    try {
      out[k] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      /* malformed cookie: ignore it */
    }
  }
  return out;
}

export type Credential = { via: 'bearer' | 'cookie' | 'query'; token: string };

/** The token a request carries, if any: bearer header, then cookie, then `?token=`. */
export function credentialOf(req: IncomingMessage, url: URL): Credential | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return { via: 'bearer', token: auth.slice(7).trim() };
  const cookie = parseCookies(req.headers.cookie)[COOKIE_NAME];
  if (cookie) return { via: 'cookie', token: cookie };
  const q = url.searchParams.get('token');
  if (q) return { via: 'query', token: q };
  return undefined;
}

/** A browser's Origin must be this server itself (cross-site websocket hijacking). */
export function originAllowed(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true; // not a browser: the token alone decides
  const host = req.headers.host;
  if (!host) return false;
  return origin === `http://${host}` || origin === `https://${host}`;
}

export function authCookie(token: string): string {
  return `${COOKIE_NAME}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`;
}
