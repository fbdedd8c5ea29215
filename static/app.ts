// Browser entry point (bundled by esbuild at server start, with the CSS it imports).
// Each page says what it is in <body data-page> and passes its data as JSON (#page-data).
import '@xterm/xterm/css/xterm.css';
import './app.css';
import type { Terminal } from '@xterm/xterm';
import type { OverviewPageData, StepPageData } from '../server/http/pages.ts';
import { readPageData } from './page-data.ts';
import { initOverview } from './overview.ts';
import { StepPage } from './step-page.ts';

declare global {
  interface Window {
    /** For end-to-end tests: the terminal, to read its buffer. */
    __stepwise?: { term: Terminal };
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
      window.__stepwise = { term: page.terminal.term };
      break;
    }
    default:
      break;
  }
}

main();
