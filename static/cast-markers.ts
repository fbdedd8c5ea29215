// Markers of an asciicast v2 recording and which block execution each belongs to. Pure (no
// DOM), shared by the report page and its tests.

/** A marker as the player takes it: seconds into the recording, and its label (`stepId/blockId`). */
export type CastMarker = [time: number, label: string];

export interface CastInfo {
  width: number | null;
  height: number | null;
  markers: CastMarker[];
  /** Time of the last event, in seconds. */
  duration: number;
  events: number;
}

/** The header size, the `m` events (in file order) and the length of an asciicast v2 text. */
export function readCast(cast: string): CastInfo {
  const lines = cast.split('\n');
  let width: number | null = null;
  let height: number | null = null;
  try {
    const h = JSON.parse(lines[0] ?? '') as { width?: unknown; height?: unknown };
    if (typeof h.width === 'number') width = h.width;
    if (typeof h.height === 'number') height = h.height;
  } catch {
    /* no header: the player will say so */
  }
  const markers: CastMarker[] = [];
  let duration = 0;
  let events = 0;
  for (const ev of castEvents(lines)) {
    events++;
    duration = Math.max(duration, ev[0]);
    if (ev[1] === 'm') markers.push([ev[0], ev[2]]);
  }
  return { width, height, markers, duration, events };
}

/** The events of an asciicast v2 text (its lines after the header), skipping broken lines. */
export function* castEvents(lines: readonly string[]): Generator<[time: number, code: string, data: string]> {
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (!line || line[0] !== '[') continue;
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch {
      continue; // a half-written last line of a live run
    }
    if (Array.isArray(ev) && typeof ev[0] === 'number' && typeof ev[1] === 'string') yield [ev[0], ev[1], typeof ev[2] === 'string' ? ev[2] : ''];
  }
}

/**
 * For each execution (its marker label and the time it began in the recording), the index of
 * its marker: the nearest one with the same label that no other execution took.
 */
export function markerIndexes(executions: ReadonlyArray<{ seq: number; label: string; castTime: number }>, markers: readonly CastMarker[]): Map<number, number> {
  const out = new Map<number, number>();
  const taken = new Set<number>();
  const byTime = [...executions].sort((a, b) => a.castTime - b.castTime);
  for (const e of byTime) {
    let best = -1;
    let bestGap = Infinity;
    markers.forEach(([t, label], i) => {
      if (label !== e.label || taken.has(i)) return;
      const gap = Math.abs(t - e.castTime);
      if (gap < bestGap) {
        best = i;
        bestGap = gap;
      }
    });
    if (best >= 0) {
      taken.add(best);
      out.set(e.seq, best);
    }
  }
  return out;
}
