// The trainee's side of a class on the step page: a banner while the trainer has taken over
// the terminal (the trainee's keys are not sent meanwhile; the server refuses them anyway),
// and the trainer's messages to the class. The step page forwards the run socket's class
// messages as `stepwise:class` events (static/step-page.ts).
import type { ServerMessage } from '../common/protocol.ts';
import { translator, type Lang } from '../common/i18n/index.ts';
import type { RunTerminal } from './terminal.ts';

type ClassMessage = Extract<ServerMessage, { type: 'class-control' | 'class-message' }>;

export function initClassTrainee(terminal: RunTerminal, lang: Lang | undefined): void {
  const tr = translator(lang ?? 'en');
  const banner = document.querySelector<HTMLElement>('[data-class-banner]');
  const list = document.querySelector<HTMLElement>('[data-class-messages]');
  const seen = new Set<number>();
  let takenOver = false;
  document.addEventListener('stepwise:class', (ev) => {
    const m = (ev as CustomEvent<ClassMessage>).detail;
    if (m.type === 'class-control') {
      const now = m.takenOverBy !== null;
      if (banner) {
        banner.dataset.takenOver = String(now);
        // After a hand-back the banner says so (once); before any take-over it stays empty.
        banner.textContent = now ? tr.t('trainee.takenOver') : takenOver ? tr.t('trainee.handedBack') : '';
      }
      takenOver = now;
      // Only while the trainee has the keyboard does their terminal take keys.
      if (terminal.connection === 'live') terminal.term.options.disableStdin = now;
    } else if (list && !seen.has(m.id)) {
      // A reconnect replays the class's messages: each is shown once.
      seen.add(m.id);
      const li = document.createElement('li');
      li.dataset.classMessage = String(m.id);
      const time = document.createElement('time');
      time.dateTime = m.at;
      time.className = 'meta';
      time.textContent = m.at.slice(11, 16);
      li.append(tr.t('trainee.message', { text: m.text }), ' ', time);
      list.append(li);
    }
  });
}
