// The shapes the server hands to page scripts: the JSON each page embeds as
// <script type="application/json" id="page-data"> (CSP forbids inline scripts), and the plan
// the overview fetches. Written by server/http (pages, report view, API), read by static/.
// Types only, so the browser imports no route module.
import type { Block } from '../server/runbook/model.ts';
import type { StepStatus } from './result.ts';
import type { PlannedStep } from './result.ts';
import type { Lang } from './i18n/index.ts';

/** What the step page's script gets (static/step-page.ts). */
export interface StepPageData {
  runId: string;
  /** The runbook's id (a resumed run names it). */
  runbook: string;
  /** The interface's language: the script's own labels use it (common/i18n). */
  lang: Lang;
  stepId: string;
  live: boolean;
  training: boolean;
  steps: Array<{ id: string; title: string; href: string; status: StepStatus | 'pending' }>;
  /** The step's executable blocks, by id. */
  blocks: Record<string, { kind: Block['kind']; confirm: boolean; hint: string | null; label: string }>;
  verdict: StepStatus | 'pending';
  /** A runbook that spans hosts: its roles in order, each with the host it runs on (a terminal tab each). */
  roles?: Array<{ role: string; host: string }>;
  /** The run's rollback panel (static/rollback-panel.ts), when the run failed or was rolled back. */
  rollback?: RollbackPanelData;
  /** The step's hints panel (static/hints-panel.ts), when it has hints or a solution; their texts are in the page only once revealed. */
  hints?: HintsPanelData;
}

/** What the hints panel's script gets: where to ask for the next hint or the solution. */
export interface HintsPanelData {
  runId: string;
  stepId: string;
  lang: Lang;
}

/** A failed run's Roll back button and the rollback's results (static/rollback-panel.ts). */
export interface RollbackPanelData {
  runId: string;
  lang: Lang;
  /** The Roll back button is offered: the run failed and was not rolled back yet. */
  available: boolean;
  /** Live: it runs in the run's shell; ended: in a new run linked to it. */
  live: boolean;
  /** Rollback block id → its step id: their results are shown as they come. */
  blocks: Record<string, string>;
  /** Rollback blocks that ask for confirmation (confirm=true). */
  confirm: string[];
}

/** What the runbook overview's script gets (static/overview.ts). */
export interface OverviewPageData {
  runbook: string;
  /** The interface's language: the script's own labels use it (common/i18n). */
  lang: Lang;
  /** The runbook language a run started here is read in (a translation's code), if not the source's. */
  runLang?: string;
  /** That translation's step titles by step id: the plan (built from the source) shows these. */
  stepTitles?: Record<string, string>;
  /** Variables whose values are secret: the plan does not send them (it masks them anyway). */
  secrets: string[];
}

/** What the report page's script gets (static/report-page.ts). */
export interface ReportPageData {
  runId: string;
  /** The interface's language: the script's own labels use it (common/i18n). */
  lang?: Lang;
  runbook: string | null;
  /** The recording the player plays. */
  castUrl: string;
  /** Block executions that have a place in the recording: `label` is the marker's `stepId/blockId`. */
  executions: Array<{ seq: number; label: string; castTime: number }>;
  /** A failed run's Roll back and the rollback's results (static/rollback-panel.ts). */
  rollback?: RollbackPanelData;
}

/** What `GET /api/runbooks/:id/plan` answers (static/overview.ts shows it). */
export interface PlanResponse {
  target: { id: string; platform: string };
  steps: PlannedStep[];
}
