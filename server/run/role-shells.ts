// The shells of a runbook that spans hosts: one persistent session (and its executor and
// server-side screen) per role. The run's first role is the run's own session (run.ts); this
// holds the others, and makes the targets of `--target lab` (one lab, one host per role).
import type { Target, TargetInfo } from '../target/target.ts';
import type { Disposable } from '../../common/disposable.ts';
import { TerminalSession } from '../terminal/session.ts';
import { ScreenMirror } from '../terminal/screen.ts';
import type { Executor } from '../exec/executor.ts';
import { LabTarget } from '../target/lab.ts';
import { SshTarget } from '../target/ssh.ts';

/** A role and the target made for it, in the runbook's order of roles. */
export interface RoleTarget {
  role: string;
  /** The id it was bound by (`host2`, `ssh://…`, `local`, `lab`). */
  bound: string;
  target: Target;
}

/** What a run records about each role: its binding, its host's identity, its recording. */
export interface RoleRecord {
  role: string;
  target: string;
  host: string;
  targetInfo: TargetInfo;
  castPath: string;
}

/** One role's terminal: what the browser attaches to and blocks on=ROLE run in. */
export interface RoleShell {
  role: string;
  target: Target;
  /** The host blocks of this role run on, as recorded with each result. */
  host: string;
  session: TerminalSession;
  screen: ScreenMirror;
  executor?: Executor;
}

/** The shells of every role but the first (whose shell is the run's own). */
export class RoleShells implements Disposable {
  private readonly byRole = new Map<string, RoleShell>();
  private disposed = false;

  private constructor(shells: RoleShell[]) {
    for (const s of shells) this.byRole.set(s.role, s);
  }

  /** Starts a shell on each role's target; if one does not start, those started are ended and the error thrown. */
  static async start(roles: readonly RoleTarget[], o: { cols?: number; rows?: number; secrets: readonly string[] }): Promise<RoleShells> {
    const shells: RoleShell[] = [];
    try {
      for (const r of roles) {
        let session: TerminalSession;
        try {
          session = await TerminalSession.start(r.target, { cols: o.cols, rows: o.rows, secrets: o.secrets });
        } catch (e) {
          throw new Error(`the shell of role ${r.role} on ${r.target.id} did not start: ${(e as Error).message}`);
        }
        const screen = new ScreenMirror(session.cols, session.rows, (over) => (over ? session.pause('screen') : session.resume('screen')));
        shells.push({ role: r.role, target: r.target, host: hostOf(r.target), session, screen });
      }
    } catch (e) {
      for (const s of shells) {
        s.screen.dispose();
        s.session.dispose();
      }
      throw e;
    }
    return new RoleShells(shells);
  }

  get(role: string): RoleShell | undefined {
    return this.byRole.get(role);
  }

  all(): RoleShell[] {
    return [...this.byRole.values()];
  }

  /** Ends every role's executor and shell, then lets go of its target (a per-run one goes away). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.byRole.values()) {
      s.executor?.dispose();
      s.session.dispose();
      s.target.release?.();
      s.screen.dispose();
    }
  }
}

/** The host a target's blocks run on, as results record it: its identity's host name. */
export function hostOf(t: Target): string {
  return t.info().host;
}

/**
 * `--target lab` for a runbook of N roles: one lab with N hosts on one LAN. Role 1 is the lab
 * target itself (host1); role i is lab host i, reached over SSH through the lab's LAN
 * namespace with the lab's own key and pinned host keys. Releasing role 1's target (when the
 * run ends) removes the whole lab; the others' connections are closed first.
 */
export async function labRoleTargets(roles: readonly string[]): Promise<RoleTarget[]> {
  const lab = await LabTarget.create({ hosts: roles.length });
  const made: RoleTarget[] = [{ role: roles[0]!, bound: 'lab', target: lab }];
  try {
    const hosts = lab.sshHosts();
    for (let i = 1; i < roles.length; i++) {
      const h = hosts[i - 1];
      if (!h) throw new Error(`lab ${lab.labId} has no host${i + 1} with an sshd`);
      made.push({ role: roles[i]!, bound: `lab:${h.name}`, target: await SshTarget.create(h) });
    }
    return made;
  } catch (e) {
    for (const m of made.slice(1)) m.target.release?.();
    await lab.dispose();
    throw e;
  }
}
