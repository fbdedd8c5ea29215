// What every HTTP route and the websocket gateway share.
import type { Catalog } from '../runbook/catalog.ts';
import type { RunStore } from '../record/store.ts';
import type { AuditLog } from '../record/audit.ts';
import type { Logger } from '../log.ts';
import type { Runs } from '../run/runs.ts';
import type { TargetKind } from '../target/registry.ts';
import type { Auth } from './auth.ts';
import type { Users } from '../record/users.ts';
import type { Classroom } from '../class/classroom.ts';
import type { Fleets } from '../run/fleet.ts';

export interface AppContext {
  /** The startup token (the built-in admin's). */
  token: string;
  /** Who a request is (`auth.authenticate(req)`, HTTP and websocket upgrades alike), sessions and sign-in codes. */
  auth: Auth;
  /** Issued tokens and their users. */
  users: Users;
  catalog: () => Catalog;
  store: RunStore;
  audit: AuditLog;
  runs: Runs;
  log: Logger;
  dataDir: string;
  /** Target ids offered to users. */
  targetIds: string[];
  /** The targets offered, by id (a plan reads a kind's profile; a run creates one). */
  targets: Readonly<Record<string, TargetKind>>;
  /** Fleet runs (run/fleet.ts): the live ones, and views of every recorded one. */
  fleets: Fleets;
  /** Classes, their seats and the trainer's actions (server/class/classroom.ts). */
  classes: Classroom;
}
