// What a class seat's token (role trainee) may do: join its class, read the class and its
// runbook, run and read its own runs, reveal hints in them. Everything else is refused (403),
// whatever the route: this is the whole list, checked before any route runs (server/http/guard.ts)
// and for websockets by the gateway. Pure.

export interface SeatScope {
  classId: string;
  runbookId: string;
  /** Every run the seat has had (its current one and those a rejoin resumed from). */
  runs: ReadonlySet<string>;
}

function segments(path: string): string[] | undefined {
  try {
    return path.split('/').slice(1).map((s) => decodeURIComponent(s));
  } catch {
    return undefined; // a malformed escape: not a path a seat may use
  }
}

/** Whether a seat may make this request (`path` without the query). */
export function seatAllows(scope: SeatScope, method: string, path: string): boolean {
  const p = segments(path);
  if (!p) return false;
  const read = method === 'GET' || method === 'HEAD';
  const own = (id: string | undefined) => id !== undefined && scope.runs.has(id);
  if (p[0] === 'api') {
    const [, a, id, b, , c] = p;
    if (a === 'me' && p.length === 2) return read;
    if (a === 'classes' && id === scope.classId) {
      if (p.length === 3) return read; // the class as its seat sees it
      if (p.length === 4 && b === 'join') return method === 'POST';
      if (p.length === 4 && b === 'messages') return read;
      return false;
    }
    if (a === 'runbooks' && p.length === 3) return read && id === scope.runbookId;
    if (a === 'runs' && own(id)) {
      if (p.length === 3) return read;
      if (read && p.length === 4 && b !== undefined && /^(report\.[a-z]+|recording\.cast)$/.test(b)) return true;
      if (p.length === 6 && b === 'steps' && (c === 'execute' || c === 'hints' || c === 'solution')) return c === 'execute' ? method === 'POST' : method === 'POST' || read;
      if (p.length === 6 && b === 'blocks' && c === 'execute') return method === 'POST';
      return false;
    }
    return false;
  }
  // Pages: the run's own pages (its redirect to the current step, each step, its report).
  if (!read) return false;
  if (p[0] === 'runs' && own(p[1])) return p.length === 2 || (p.length === 3 && p[2] === 'report') || (p.length === 4 && p[2] === 'steps');
  return false;
}

/** Whether a seat may attach to a run's terminal (/ws/runs/:id): only its own. */
export function seatMayAttach(scope: SeatScope, runId: string): boolean {
  return scope.runs.has(runId);
}
