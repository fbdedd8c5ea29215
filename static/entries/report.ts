// The run report page's script: the recording in the asciinema player (report-page.ts brings
// the player's stylesheet), the seek links, Resume.
import type { ReportPageData } from '../../common/page-data.ts';
import { readPageData } from '../page-data.ts';
import { initReport } from '../report-page.ts';
import { exposeForTests } from '../test-hooks.ts';

const data = readPageData<ReportPageData>();
if (data) {
  const hooks = initReport(data);
  exposeForTests(() => ({ player: hooks.player, markers: hooks.markers }));
}
