// Scrollback for a reloaded page: the run's asciicast recording holds everything the
// terminal showed, so its output events are replayed into xterm before live bytes.

/** Replay at most this much of the recording's tail: enough scrollback, bounded work. */
const MAX_REPLAY_CHARS = 2 * 1024 * 1024;

/** The output of an asciicast v2 recording, or '' when there is none (yet). */
export async function fetchRecordedOutput(runId: string): Promise<string> {
  let text: string;
  try {
    const res = await fetch(`/api/runs/${encodeURIComponent(runId)}/recording.cast`, { credentials: 'same-origin' });
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
  const lines = cast.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (!line || line[0] !== '[') continue;
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch {
      continue; // a half-written last line
    }
    if (Array.isArray(ev) && ev[1] === 'o' && typeof ev[2] === 'string') {
      out.push(ev[2]);
      total += ev[2].length;
    }
  }
  let s = out.join('');
  if (total > MAX_REPLAY_CHARS) {
    s = s.slice(-MAX_REPLAY_CHARS);
    const nl = s.indexOf('\n');
    s = '\x1b[2m… earlier output omitted …\x1b[0m\r\n' + (nl >= 0 ? s.slice(nl + 1) : s);
  }
  return s;
}

/**
 * Overlaps shorter than this are ignored: a few characters can coincide by chance (a prompt
 * ends with a space, a typed line starts with one), and dropping real output is worse than
 * showing a few characters twice.
 */
export const MIN_OVERLAP = 16;
