// A run's report as one self-contained HTML file, for the evidence bundle: opened from disk
// with no server and no network it shows who ran what, where, with which inputs, the
// approvals, every step and block with its output and exit code, and plays the recording in
// an asciinema player whose JS and CSS are inlined. Pure: the player's assets are passed in
// (loadPlayerAssets is the one I/O function, at the edge).

import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { AuditEvent } from '../record/chain.ts';
import type { RunReport } from './model.ts';
import { placeText, roleFacts } from './roles.ts';

export interface PlayerAssets {
  js: string;
  css: string;
}

/** The asciinema player's standalone bundle (the global AsciinemaPlayer, its WebAssembly inlined). */
export function loadPlayerAssets(): PlayerAssets {
  const require = createRequire(import.meta.url);
  return {
    js: fs.readFileSync(require.resolve('asciinema-player/dist/bundle/asciinema-player.min.js'), 'utf8'),
    css: fs.readFileSync(require.resolve('asciinema-player/dist/bundle/asciinema-player.css'), 'utf8'),
  };
}

export interface HtmlReportInput {
  report: RunReport;
  /** The run's audit chain (approvals, host identity and the head are read from it). */
  events: readonly AuditEvent[];
  /** The recording's text, when there is one. */
  cast: string | undefined;
  assets: PlayerAssets;
}

const esc = (s: unknown): string =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Text placed inside a <script> or <style> element: `</` would end the element early. */
const raw = (s: string): string => s.replace(/<\//g, '<\\/');

/** JSON inside <script type="application/json">: no `<` at all, so no tag can close it. */
const jsonData = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

/** Markers of an asciicast v2 text: `[time, "m", label]` events, as the player takes them. */
export function castMarkers(cast: string): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const line of cast.split('\n').slice(1)) {
    if (!line.includes('"m"')) continue;
    try {
      const e = JSON.parse(line) as unknown;
      if (Array.isArray(e) && e[1] === 'm' && typeof e[0] === 'number') out.push([e[0], String(e[2] ?? '')]);
    } catch {
      // A line that is not JSON is not a marker; the player reports a broken recording itself.
    }
  }
  return out;
}

/** Approval requests, approvals, rejections and expiries recorded in the chain, in order. */
export function approvalEvents(events: readonly AuditEvent[]): AuditEvent[] {
  return events.filter((e) => (e.type as string).startsWith('approval-'));
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d232a;background:#fff}
main{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1.5rem;padding:1rem 1.5rem}
@media (max-width:900px){main{grid-template-columns:1fr}}
h1{font-size:1.35rem;margin:1rem 1.5rem 0}h2{font-size:1.1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse}td,th{text-align:left;padding:.15rem .6rem .15rem 0;vertical-align:top}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#f4f5f7;padding:.5rem;overflow:auto;white-space:pre-wrap;word-break:break-all;margin:.3rem 0}
.step{border-top:1px solid #d8dce1;padding:.4rem 0}.exec{margin:.4rem 0 .8rem 1rem}
.passed{color:#1a7f37}.failed{color:#cf222e}.warning,.skipped,.not-run{color:#8a6100}
.player{position:sticky;top:0}.muted{color:#59636e}button.seek{font:inherit;cursor:pointer}
`;

export function toHtml(input: HtmlReportInput): string {
  const { report, events } = input;
  const r = report.run;
  const started = events.find((e) => e.type === 'run-started');
  const targetInfo = (started?.data.targetInfo ?? (r.options as Record<string, unknown>).targetInfo) as Record<string, unknown> | undefined;
  const head = events.at(-1)?.hash ?? null;
  const markers = input.cast ? castMarkers(input.cast) : [];
  // Marker indexes by label (`step/block`), in recording order.
  const byLabel = new Map<string, number[]>();
  markers.forEach(([, label], i) => byLabel.set(label, [...(byLabel.get(label) ?? []), i]));
  const seen = new Map<string, number>();

  const vars = Object.entries(r.vars);
  const approvals = approvalEvents(events);
  const steps = report.steps
    .map((s) => {
      const execs = s.executions
        .map((e) => {
          // The recorder drops one `step/block` marker per block start, in order: the n-th
          // execution of a block that started (a skipped one left no marker) goes with the n-th
          // marker of that label.
          const label = `${s.id}/${e.id}`;
          const nth = e.castTime === null ? 0 : (seen.get(label) ?? 0) + 1;
          if (nth) seen.set(label, nth);
          const idx = nth ? byLabel.get(label)?.[nth - 1] : undefined;
          const seek = idx === undefined ? '' : ` <button class="seek" data-marker="${idx}" type="button">▶ play from here</button>`;
          const place = placeText(e);
          return `<div class="exec" id="exec-${e.seq}"><div><code>${esc(e.id)}</code> ${esc(e.kind)}${place ? ` · on <b class="role">${esc(place)}</b>` : ''} · <span class="${esc(e.status)}">${esc(e.status)}</span> · exit code <b>${esc(e.exitCode ?? '—')}</b> · ${esc(e.durationMs)} ms · ${esc(e.end)}${e.reason ? ` · ${esc(e.reason)}` : ''}${seek}</div>
${e.command !== null ? `<pre class="command">${esc(e.command)}</pre>` : ''}<pre class="output">${esc(e.output)}</pre></div>`;
        })
        .join('\n');
      return `<section class="step" id="step-${esc(s.id)}"><h3>${esc(s.title ? `${s.id}: ${s.title}` : s.id)} — <span class="${esc(s.status)}">${esc(s.status)}</span></h3>${s.reason ? `<p class="muted">${esc(s.reason)}</p>` : ''}
${execs || '<p class="muted">no block ran</p>'}</section>`;
    })
    .join('\n');

  // How the run was rolled back (report/rollback.ts): the outcome, then each rollback block.
  const rb = report.rollback;
  const rollback = !rb
    ? ''
    : `<h2>Rollback</h2>
<p id="rollback">Rolls back run <code>${esc(rb.of)}</code> in run <code>${esc(rb.runId)}</code>${rb.by ? `, asked by ${esc(rb.by)}` : ''}: steps ${esc(rb.planned.join(', '))}, the last first — <span class="${esc(rb.status)}">${esc(rb.status)}</span>${rb.failedBlock ? ` at <code>${esc(rb.failedBlock)}</code>: ${esc(rb.reason ?? '')}` : ''}; undone: ${esc(rb.undone.join(', ') || '—')}</p>
${rb.executions
  .map((e) => {
    const label = `${e.stepId}/${e.id}`;
    const idx = rb.runId === r.id && e.castTime !== null ? byLabel.get(label)?.[0] : undefined;
    const seek = idx === undefined ? '' : ` <button class="seek" data-marker="${idx}" type="button">▶ play from here</button>`;
    return `<div class="exec" id="exec-${e.seq}"><div><code>${esc(e.stepId)}</code> · <code>${esc(e.id)}</code> ${esc(e.kind)} · <span class="${esc(e.status)}">${esc(e.status)}</span> · exit code <b>${esc(e.exitCode ?? '—')}</b> · ${esc(e.durationMs)} ms · ${esc(e.end)}${e.reason ? ` · ${esc(e.reason)}` : ''}${seek}</div>
${e.command !== null ? `<pre class="command">${esc(e.command)}</pre>` : ''}<pre class="output">${esc(e.output)}</pre></div>`;
  })
  .join('\n')}`;

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Run ${esc(r.id)} — ${esc(r.runbookTitle ?? r.runbookId ?? 'ad-hoc')}</title>
<style>${raw(input.assets.css)}</style><style>${STYLE}</style></head>
<body>
<h1>${esc(r.runbookTitle ?? r.runbookId ?? 'Run')} — <span class="${esc(r.status)}">${esc(r.status)}</span></h1>
<main><div>
<h2>The run</h2>
<table id="run">
<tr><th>run</th><td><code>${esc(r.id)}</code></td></tr>
<tr><th>runbook</th><td>${esc(r.runbookId ?? '—')} (<code>${esc(r.runbookFile ?? '—')}</code>, version <code>${esc(r.contentHash ?? '—')}</code>)</td></tr>
<tr><th>who</th><td id="who">${esc(r.user)}</td></tr>
<tr><th>where</th><td id="where">${esc(r.target)}${targetInfo ? ` <code>${esc(JSON.stringify(targetInfo))}</code>` : ''}</td></tr>
${roleFacts(r.options).map((f) => `<tr><th>role ${esc(f.role)}</th><td class="role-host">${esc(f.target)} · ${esc(f.host)}${f.identity?.hostKey ? ` · <code>${esc(f.identity.hostKey)}</code>` : ''}</td></tr>`).join('')}
<tr><th>started</th><td>${esc(r.startedAt)}</td></tr><tr><th>ended</th><td>${esc(r.endedAt ?? '—')}</td></tr>
${r.parentRunId ? `<tr><th>resumes</th><td><code>${esc(r.parentRunId)}</code></td></tr>` : ''}
<tr><th>audit head</th><td><code>${esc(head ?? '—')}</code> (${events.length} events)</td></tr>
</table>
<h2>Inputs</h2>
${vars.length ? `<table id="inputs">${vars.map(([k, v]) => `<tr><th>${esc(k)}</th><td><code>${esc(v)}</code></td></tr>`).join('')}</table>` : '<p class="muted">none</p>'}
<h2>Approvals</h2>
${approvals.length ? `<table id="approvals">${approvals.map((e) => `<tr><td>${esc(e.ts)}</td><td>${esc(e.type.slice('approval-'.length))}</td><td>${esc(e.data.blockId)}</td><td>${esc(e.data.user ?? '')}</td><td>${esc(e.data.comment ?? '')}</td></tr>`).join('')}</table>` : '<p class="muted">none</p>'}
<h2>Steps</h2>
<p>${esc(report.totals.passed)} passed, ${esc(report.totals.failed)} failed, ${esc(report.totals.warning)} warning, ${esc(report.totals.skipped)} skipped, ${esc(report.totals.notRun)} not run</p>
${steps}
${rollback}
</div>
<div class="player"><h2>Recording</h2><div id="player">${input.cast ? '' : '<p class="muted">This run has no recording.</p>'}</div></div>
</main>
<script type="application/json" id="cast">${jsonData(input.cast ?? null)}</script>
<script type="application/json" id="markers">${jsonData(markers)}</script>
<script>${raw(input.assets.js)}</script>
<script>
(function () {
  var cast = JSON.parse(document.getElementById('cast').textContent);
  if (!cast) return;
  var markers = JSON.parse(document.getElementById('markers').textContent);
  var player = AsciinemaPlayer.create({ data: cast }, document.getElementById('player'), { markers: markers, preload: true, fit: 'width', controls: true });
  window.stepwisePlayer = player;
  document.addEventListener('click', function (ev) {
    var b = ev.target.closest && ev.target.closest('button.seek');
    if (b) player.seek({ marker: Number(b.getAttribute('data-marker')) });
  });
})();
</script>
</body></html>
`;
}
