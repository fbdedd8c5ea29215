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
}

/** What `GET /api/runbooks/:id/plan` answers (static/overview.ts shows it). */
export interface PlanResponse {
  target: { id: string; platform: string };
  steps: PlannedStep[];
}
