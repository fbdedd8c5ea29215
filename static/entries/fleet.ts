// The fleet page's script: the live hosts × steps matrix, counts, budget, Stop.
import type { FleetPageData } from '../../common/matrix.ts';
import { readPageData } from '../page-data.ts';
import { initFleetPage } from '../fleet-page.ts';

const data = readPageData<FleetPageData>();
if (data) initFleetPage(data);
