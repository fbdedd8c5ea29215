// What end-to-end tests read from a page: the step page's terminal (its buffer), the report
// page's player (its time) and the recording's markers. Only a bundle built with test hooks
// (server/http/bundle.ts) sets window.__stepwise; in production the minifier drops the code.
import type { Terminal } from '@xterm/xterm';
import type { Player } from 'asciinema-player';
import type { CastMarker } from './cast-markers.ts';

declare global {
  /** Replaced at build time by esbuild's `define`. */
  const __STEPWISE_TEST_HOOKS__: boolean;
  interface Window {
    __stepwise?: TestHooks;
  }
}

export interface TestHooks {
  term?: Terminal;
  /** A runbook that spans hosts: each role's terminal. */
  terms?: Record<string, Terminal>;
  player?: Player;
  markers?: CastMarker[];
}

export function exposeForTests(hooks: () => TestHooks): void {
  if (__STEPWISE_TEST_HOOKS__) {
    // Getters: the player exists only once the recording is fetched.
    window.__stepwise = {
      get term() {
        return hooks().term;
      },
      get terms() {
        return hooks().terms;
      },
      get player() {
        return hooks().player;
      },
      get markers() {
        return hooks().markers;
      },
    };
  }
}
