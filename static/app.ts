// Browser entry point (bundled by esbuild at server start, with the CSS it imports).
// Each page says what it is in <body data-page> and passes its data as JSON (#page-data).
// CSS order: the libraries' stylesheets first, so app.css can adjust them.
import '@xterm/xterm/css/xterm.css';
import { initReport } from './report-page.ts'; // brings the asciinema player's CSS
import './app.css';
import type { Terminal } from '@xterm/xterm';
import type { Player } from 'asciinema-player';
import type { OverviewPageData, ReportPageData, StepPageData } from '../common/page-data.ts';
import type { CastMarker } from './cast-markers.ts';
import { readPageData } from './page-data.ts';
import { initOverview } from './overview.ts';
import { StepPage } from './step-page.ts';
import { initResume } from './resume.ts';

declare global {
  interface Window {
    /**
     * For end-to-end tests: the step page's terminal (to read its buffer), the report page's
     * player (to read its time) and the recording's markers.
     */
    __stepwise?: { term?: Terminal; player?: Player; markers?: CastMarker[] };
  }
}

function main(): void {
  switch (document.body.dataset.page) {
    case 'overview': {
      const data = readPageData<OverviewPageData>();
      if (data) initOverview(data);
      break;
    }
    case 'step': {
      const data = readPageData<StepPageData>();
      if (!data) break;
      const page = new StepPage(data);
      initResume({ runbook: data.runbook, runId: data.runId });
      window.__stepwise = { term: page.terminal.term };
      break;
    }
    case 'report': {
      const data = readPageData<ReportPageData>();
      if (!data) break;
      const hooks = initReport(data);
      // The player exists once the recording is fetched: read it through a getter.
      window.__stepwise = {
        get player() {
          return hooks.player;
        },
        get markers() {
          return hooks.markers;
        },
      };
      break;
    }
    default:
      break;
  }
}

main();
