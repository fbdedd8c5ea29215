// An ended run's terminal pane: the run's asciicast recording holds everything the terminal
// showed, so its output is replayed into xterm (a live run gets the server's screen instead).
import { castEvents } from './cast-markers.ts';

/** Replay at most this much of the recording's tail: enough scrollback, bounded work. */
const MAX_REPLAY_CHARS = 2 * 1024 * 1024;

/** The output of an asciicast v2 recording, or '' when there is none (yet). */
export async function fetchRecordedOutput(runId: string, role?: string): Promise<string> {
  let text: string;
  try {
    // A runbook that spans hosts: one recording per role.
    const res = await fetch(`/api/runs/${encodeURIComponent(runId)}/recording.cast${role !== undefined ? `?role=${encodeURIComponent(role)}` : ''}`, { credentials: 'same-origin' });
    if (!res.ok) return '';
    text = await res.text();
  } catch {
    return '';
  }
  return castOutput(text);
}

/** Joins the `o` events of an asciicast v2 text; pure. */
export function castOutput(cast: string): string {
  const out: string[] = [];
  let total = 0;
  for (const [, code, data] of castEvents(cast.split('\n'))) {
    if (code !== 'o') continue;
    out.push(data);
    total += data.length;
  }
  let s = out.join('');
  if (total > MAX_REPLAY_CHARS) {
    s = s.slice(-MAX_REPLAY_CHARS);
    const nl = s.indexOf('\n');
    s = '\x1b[2m… earlier output omitted …\x1b[0m\r\n' + (nl >= 0 ? s.slice(nl + 1) : s);
  }
  return s;
}
