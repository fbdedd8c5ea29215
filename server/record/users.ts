// Users and their API tokens, kept in the run store's SQLite database (tables `users` and
// `tokens`, see the migrations in store.ts).
//
// A token is `sw_` + 32 random bytes in base64url. It is shown once, when created; only its
// sha256 is stored, so the database alone cannot be used to sign in. A token is looked up
// by that digest (an index lookup on a hash the caller cannot steer, so timing says nothing
// about how much of a real token a guess shares), and the digests are then compared again
// with timingSafeEqual. Each token carries a role; revoking a token keeps its row (for the
// record) and makes it fail from the next request on.

import crypto from 'node:crypto';
import type Database from 'better-sqlite3';
import { failure } from '../errors.ts';
import type { Outcome } from '../../common/outcome.ts';

// approver sits between viewer and operator: it reads everything and cannot operate; the one
// thing it adds, approving, is checked by name (server/run/approvals.ts), not by this order.
// trainer sits above operator: it operates, and also runs classes (server/class/), acting only
// on its own classes' runs (checked by the class, not by this order).
export const ROLES = ['viewer', 'approver', 'operator', 'trainer', 'admin'] as const;
/** viewer: watches runs and reads reports; operator: also starts and executes runs; trainer: also runs classes; admin: also manages tokens. */
export type TokenRole = (typeof ROLES)[number];
/**
 * A principal's role: a token's, or `trainee` for a class seat's token. A trainee is below
 * every token role (roleAtLeast is false for it): what a seat may do is listed by
 * server/class/seat-access.ts, nothing else.
 */
export type Role = TokenRole | 'trainee';

/** Who made a request: the user a token belongs to, the token's role and its id. */
export interface Principal {
  user: string;
  role: Role;
  /** The token's id (`tk_…`); `startup` for the server's own token. */
  tokenId: string;
  /** A browser session's key (server/http/sessions.ts) when the request came with its cookie. */
  session?: string;
  /** A class seat's principal (role trainee): its class and trainee name. */
  seat?: { classId: string; trainee: string };
}

export interface TokenInfo {
  id: string;
  user: string;
  role: Role;
  /** ISO 8601 (UTC). */
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export const TOKEN_PREFIX = 'sw_';
/** The id of the server's startup token (STEPWISE_TOKEN or generated), the built-in admin. */
export const STARTUP_TOKEN_ID = 'startup';
/** User names: what an audit line or a runs filter can show without quoting. */
export const USER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const TOKEN_ID_PATTERN = /^tk_[0-9a-f]{12}$/;
// last_used_at is a hint, not an audit: write it at most this often per token.
const TOUCH_EVERY_MS = 60_000;
// Longer than any token we issue by far; longer input is not even hashed.
const MAX_TOKEN_LENGTH = 512;

/** A role a token may carry (never `trainee`: seats have their own tokens). */
export function isRole(v: unknown): v is TokenRole {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

/** Whether `role` may do what `needed` may (viewer < operator < admin). */
export function roleAtLeast(role: Role, needed: Role): boolean {
  // A trainee is at index -1: below every token role, and never enough for one.
  return ROLES.indexOf(role as TokenRole) >= ROLES.indexOf(needed as TokenRole) && ROLES.includes(role as TokenRole);
}

export function isTokenId(v: string): boolean {
  return TOKEN_ID_PATTERN.test(v);
}

/** A new random token: `sw_` + 32 random bytes, base64url. */
export function newToken(): string {
  return TOKEN_PREFIX + crypto.randomBytes(32).toString('base64url');
}

export function tokenDigest(token: string): Buffer {
  return crypto.createHash('sha256').update(token, 'utf8').digest();
}

interface TokenRow {
  id: string;
  user: string;
  role: string;
  digest: Buffer;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

function toInfo(r: TokenRow): TokenInfo {
  return { id: r.id, user: r.user, role: r.role as Role, createdAt: r.created_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at };
}

export class Users {
  private readonly touched = new Map<string, number>();

  /** `db` is the run store's connection (RunStore#database), migrated to include the tables. */
  constructor(private readonly db: Database.Database) {}

  /** Creates the user if new and a token for them; the token itself is returned only here. */
  createToken(user: string, role: Role, now: Date = new Date()): Outcome<{ token: string; info: TokenInfo }> {
    if (typeof user !== 'string' || !USER_NAME_PATTERN.test(user)) {
      return { ok: false, error: failure('BAD_REQUEST', 'user must be 1–64 letters, digits or . _ @ - (starting with a letter or digit)', 'user') };
    }
    if (!isRole(role)) return { ok: false, error: failure('BAD_REQUEST', `role must be one of ${ROLES.join(', ')}`, 'role') };
    const token = newToken();
    const at = now.toISOString();
    const info: TokenInfo = { id: `tk_${crypto.randomBytes(6).toString('hex')}`, user, role, createdAt: at, lastUsedAt: null, revokedAt: null };
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO users (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING').run(user, at);
      this.db
        .prepare('INSERT INTO tokens (id, user, role, digest, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(info.id, user, role, tokenDigest(token), at);
    })();
    return { ok: true, value: { token, info } };
  }

  /** Every token ever issued (revoked ones too), oldest first. Never the tokens themselves. */
  listTokens(): TokenInfo[] {
    return (this.db.prepare('SELECT * FROM tokens ORDER BY created_at, id').all() as TokenRow[]).map(toInfo);
  }

  getToken(id: string): TokenInfo | undefined {
    const row = this.db.prepare('SELECT * FROM tokens WHERE id = ?').get(id) as TokenRow | undefined;
    return row ? toInfo(row) : undefined;
  }

  /** Revokes a token from now on. */
  revokeToken(id: string, now: Date = new Date()): 'revoked' | 'already-revoked' | 'unknown' {
    const row = this.db.prepare('SELECT revoked_at FROM tokens WHERE id = ?').get(id) as { revoked_at: string | null } | undefined;
    if (!row) return 'unknown';
    if (row.revoked_at !== null) return 'already-revoked';
    this.db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(now.toISOString(), id);
    this.touched.delete(id);
    return 'revoked';
  }

  /** The principal a token stands for, or undefined for an unknown or revoked token. */
  resolve(token: string | undefined): Principal | undefined {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
    const digest = tokenDigest(token);
    const row = this.db
      .prepare('SELECT id, user, role, digest FROM tokens WHERE digest = ? AND revoked_at IS NULL')
      .get(digest) as Pick<TokenRow, 'id' | 'user' | 'role' | 'digest'> | undefined;
    if (!row || !Buffer.isBuffer(row.digest) || row.digest.length !== digest.length || !crypto.timingSafeEqual(row.digest, digest)) return undefined;
    if (!isRole(row.role)) return undefined;
    this.touch(row.id);
    return { user: row.user, role: row.role, tokenId: row.id };
  }

  private touch(id: string): void {
    const now = Date.now();
    if (now - (this.touched.get(id) ?? 0) < TOUCH_EVERY_MS) return;
    this.touched.set(id, now);
    try {
      this.db.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?').run(new Date(now).toISOString(), id);
    } catch {
      /* a busy database must not fail the request: last-used is only a hint */
    }
  }
}
