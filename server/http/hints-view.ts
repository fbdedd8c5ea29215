// The step page's hints panel: what of a step's hints and solution the reader has revealed
// (server/class/classroom.ts decides, and records reveals). Nothing unrevealed leaves here.
import type { Response } from 'express';
import type { AppContext } from './context.ts';
import type { Step } from '../runbook/model.ts';
import type { Principal } from '../record/users.ts';
import type { HintsPanelData } from '../../common/page-data.ts';
import type { Lang } from '../../common/i18n/index.ts';

export interface HintsPanelView {
  revealed: Array<{ index: number; n: number; text: string }>;
  remaining: number;
  hasSolution: boolean;
  solution: string | null;
  failures: number;
}

export function hintsPanel(ctx: AppContext, runId: string, step: Step, res: Response, lang: Lang): { data: HintsPanelData; view: HintsPanelView } | undefined {
  if (!step.hints?.length && step.solution === undefined) return undefined;
  const p = res.locals.principal as Principal | undefined;
  if (!p) return undefined;
  const st = ctx.classes.hints(runId, step.id, p);
  if (!st.ok) return undefined;
  const s = st.value;
  return {
    data: { runId, stepId: step.id, lang },
    view: {
      revealed: s.revealed.map((text, index) => ({ index, n: index + 1, text })),
      remaining: s.remaining,
      hasSolution: s.hasSolution,
      solution: s.solution,
      failures: s.failures,
    },
  };
}
