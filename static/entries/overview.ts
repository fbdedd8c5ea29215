// The runbook overview page's script: the start form and the plan.
import type { OverviewPageData } from '../../common/page-data.ts';
import { readPageData } from '../page-data.ts';
import { initOverview } from '../overview.ts';

const data = readPageData<OverviewPageData>();
if (data) initOverview(data);
