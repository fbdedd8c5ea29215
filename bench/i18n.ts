// `node --import tsx bench/i18n.ts`: what the message catalogs cost — one formatted message
// (a plain one, one with a plural) once its formatter is cached, the first format of every
// key (parsing each ICU message), and a whole step-page view rendered in English and Korean.
// A benchmark, not a test: it prints numbers (medians), it never fails.
//
// Environment (optional):
//   BENCH_REPEAT=20   timed repetitions of each measurement
import { performance } from 'node:perf_hooks';
import { CATALOGS, translator, type Lang, type MessageKey } from '../common/i18n/index.ts';
import { IntlMessageFormat } from 'intl-messageformat';
import { Views } from '../server/http/render.ts';

const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 20));
/** Calls per timed repetition of a single message: enough to see microseconds. */
const CALLS = 10_000;

function median(f: () => void): number {
  f(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t = performance.now();
    f();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

const views = new Views();
const steps = Array.from({ length: 12 }, (_, i) => ({ id: `s${i}`, title: `Step ${i}`, number: i + 1, href: `/x/${i}`, status: i < 4 ? 'passed' : 'pending', current: i === 4 }));
const block = { id: 'b1', kind: 'command', kindLabel: 'Command', executable: true, lang: 'sh', content: 'echo hi', file: null, mode: null, confirm: true, interactive: false, timeoutSec: 30, status: 'passed', live: true, result: { meta: 'exit 0 · 85 ms', reason: '', hint: '', output: 'hi\n' } };
const data = {
  title: 't', crumbs: [], runId: 'r1', runHref: '/runs/r1', reportHref: '/runs/r1/report', converge: false, resumable: false, resumed: null,
  runbookTitle: 'Runbook', runbookHref: '/runbooks/x', target: 'local', training: false, live: true, runStatus: 'live', stepIndex: 5, stepCount: 12,
  stepTitle: 'Step 4', contentLang: 'en', steps, doneCount: 4, progressText: '4 of 12 steps done', allDone: false,
  parts: [{ prose: 'Some *prose*.' }, { block }, { block: { ...block, id: 'b2' } }], hasExecutable: true,
  verdict: { status: 'pending', title: 'Not verified yet', reason: 'Run the step.', hint: undefined }, prev: steps[3], next: steps[5], nextLocked: false, notice: null, pageData: { runId: 'r1' },
};

console.log(`i18n (median of ${REPEAT})`);
for (const lang of ['en', 'ko'] as Lang[]) {
  const tr = translator(lang);
  const plain = median(() => { for (let i = 0; i < CALLS; i++) tr.t('step.runStep'); });
  const plural = median(() => { for (let i = 0; i < CALLS; i++) tr.t('progress', { done: i % 7, total: 12 }); });
  const keys = Object.keys(CATALOGS[lang]) as MessageKey[];
  const parseAll = median(() => { for (const k of keys) new IntlMessageFormat(CATALOGS[lang][k], 'en'); });
  const page = median(() => views.render('step', data, { lang }));
  console.log(
    `  ${lang}: t() plain ${((plain / CALLS) * 1000).toFixed(2)} µs, with a plural ${((plural / CALLS) * 1000).toFixed(2)} µs; ` +
      `parsing all ${keys.length} messages ${parseAll.toFixed(2)} ms (once per process); step view ${page.toFixed(2)} ms`,
  );
}
