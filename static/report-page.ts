// The run report page: the recording in an asciinema player, with a marker at each block
// start, and each block execution linked to its marker (▶ time, or a click on its header).
import 'asciinema-player/dist/bundle/asciinema-player.css';
import * as AsciinemaPlayer from 'asciinema-player';
import type { Player } from 'asciinema-player';
import type { ReportPageData } from '../common/page-data.ts';
import { markerIndexes, readCast, type CastMarker } from './cast-markers.ts';
import { initResume } from './resume.ts';
import { pageTranslator } from './language.ts';
import { RollbackPanel } from './rollback-panel.ts';

const FONT = '"JetBrains Mono", "Cascadia Mono", "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", "Noto Sans Mono CJK KR", monospace';

export interface ReportHooks {
  player?: Player;
  markers: CastMarker[];
  /** Execution seq → marker index. */
  markerOf: Map<number, number>;
}

export function initReport(data: ReportPageData): ReportHooks {
  initResume({ runbook: data.runbook, runId: data.runId });
  if (data.rollback) new RollbackPanel(data.rollback);
  placeSegments();
  const hooks: ReportHooks = { markers: [], markerOf: new Map() };
  void loadPlayer(data, hooks);
  document.addEventListener('click', (ev) => onClick(ev, hooks));
  return hooks;
}

async function loadPlayer(data: ReportPageData, hooks: ReportHooks): Promise<void> {
  const host = document.querySelector<HTMLElement>('[data-player]');
  if (!host) return;
  let text = '';
  try {
    const res = await fetch(data.castUrl, { credentials: 'same-origin' });
    if (res.ok) text = await res.text();
  } catch {
    text = '';
  }
  const cast = readCast(text);
  if (!text || cast.events === 0) {
    setStatus(pageTranslator().t('report.noRecordingStatus'), 'empty');
    host.classList.add('player-empty');
    host.textContent = pageTranslator().t('report.noRecording');
    return;
  }
  hooks.markers = cast.markers;
  hooks.markerOf = markerIndexes(data.executions, cast.markers);
  const player = AsciinemaPlayer.create({ data: text }, host, {
    markers: cast.markers,
    preload: true,
    fit: 'width',
    theme: 'stepwise',
    terminalFontFamily: FONT,
    terminalLineHeight: 1.3,
    idleTimeLimit: undefined,
    controls: true,
    ...(cast.width && cast.height ? { cols: cast.width, rows: cast.height } : {}),
  });
  hooks.player = player;
  for (const [seq, index] of hooks.markerOf) {
    const el = execEl(seq);
    if (!el) continue;
    el.dataset.markerIndex = String(index);
    el.classList.add('seekable');
    const button = el.querySelector<HTMLButtonElement>('[data-action="seek"]');
    if (button) button.disabled = false;
  }
  player.addEventListener('marker', ({ index }) => {
    for (const [seq, i] of hooks.markerOf) if (i === index) highlight(seq, false);
  });
  const tr = pageTranslator();
  player.addEventListener('playing', () => setStatus(tr.t('report.playing'), 'playing'));
  player.addEventListener('pause', () => setStatus(tr.t('report.paused'), 'paused'));
  player.addEventListener('ended', () => setStatus(tr.t('report.playEnded'), 'paused'));
  setStatus(tr.t('report.markers', { count: cast.markers.length, clock: formatClock(cast.duration) }), 'ready');
}

function onClick(ev: MouseEvent, hooks: ReportHooks): void {
  const target = ev.target instanceof Element ? ev.target : null;
  if (!target || !hooks.player) return;
  const seek = target.closest<HTMLElement>('[data-action="seek"]');
  // The whole header of an execution seeks too (but not its links or text selections).
  const head = seek ? null : target.closest<HTMLElement>('.exec.seekable .exec-head');
  if (!seek && (!head || target.closest('a, button') || String(window.getSelection() ?? ''))) return;
  const exec = (seek ?? head)!.closest<HTMLElement>('[data-execution]');
  const index = exec?.dataset.markerIndex;
  if (!exec || index === undefined) return;
  ev.preventDefault();
  void hooks.player.seek({ marker: Number(index) });
  highlight(Number(exec.dataset.execution), true);
}

function highlight(seq: number, reveal: boolean): void {
  for (const el of document.querySelectorAll<HTMLElement>('.exec.is-current')) el.classList.remove('is-current');
  const el = execEl(seq);
  if (!el) return;
  el.classList.add('is-current');
  const label = el.querySelector('.exec-id')?.textContent ?? '';
  const now = document.querySelector<HTMLElement>('[data-player-now]');
  if (now) now.textContent = label ? pageTranslator().t('report.at', { label }) : '';
  if (reveal) {
    const pane = document.querySelector<HTMLElement>('.player-pane');
    const rect = pane?.getBoundingClientRect();
    // Stacked layout (narrow window): bring the player into view.
    if (pane && rect && (rect.bottom < 0 || rect.top > window.innerHeight)) pane.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }
}

/**
 * The timeline's segments carry their place as `left:X%;width:Y%` in data-geometry: the CSP
 * refuses style attributes, not styles set through the DOM.
 */
function placeSegments(): void {
  for (const el of document.querySelectorAll<HTMLElement>('[data-geometry]')) {
    const m = /^left:([\d.]+)%;width:([\d.]+)%$/.exec(el.dataset.geometry ?? '');
    if (!m) continue;
    el.style.left = `${m[1]}%`;
    el.style.width = `${m[2]}%`;
  }
}

function execEl(seq: number): HTMLElement | null {
  return document.querySelector<HTMLElement>(`[data-execution="${seq}"]`);
}

function setStatus(text: string, state: string): void {
  const el = document.querySelector<HTMLElement>('[data-player-status]');
  if (!el) return;
  el.textContent = text;
  el.dataset.state = state;
}

function formatClock(sec: number): string {
  const s = Math.round(sec);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
