// The step page's script: the terminal (xterm.js, whose stylesheet comes first so app.css can
// adjust it), the Run buttons, the live verdict, Resume.
import '@xterm/xterm/css/xterm.css';
import type { StepPageData } from '../../common/page-data.ts';
import { readPageData } from '../page-data.ts';
import { StepPage } from '../step-page.ts';
import { initResume } from '../resume.ts';
import { exposeForTests } from '../test-hooks.ts';
import { initApprovals } from '../approvals-page.ts';
import { initClassTrainee } from '../class-trainee.ts';

const data = readPageData<StepPageData>();
if (data) {
  const page = new StepPage(data);
  initResume({ runbook: data.runbook, runId: data.runId });
  initApprovals();
  initClassTrainee(page.terminal, data.lang);
  exposeForTests(() => ({ term: page.terminal.term, terms: Object.fromEntries([...page.roleTerminals].map(([role, t]) => [role, t.term])) }));
}
