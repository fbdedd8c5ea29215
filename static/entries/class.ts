// The trainer's class page: the live trainees × steps matrix, watching a trainee's terminal
// (xterm.js, whose stylesheet comes first), take over / hand back, messages, End class.
import '@xterm/xterm/css/xterm.css';
import type { ClassPageData } from '../../common/matrix.ts';
import { readPageData } from '../page-data.ts';
import { initClassPage } from '../class-page.ts';
import { exposeForTests } from '../test-hooks.ts';

const data = readPageData<ClassPageData>();
if (data) {
  const page = initClassPage(data);
  exposeForTests(() => ({ term: page?.watched()?.term }));
}
