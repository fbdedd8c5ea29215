// The classes list's script: the create form and the seats' join links.
import type { ClassesPageData } from '../../common/matrix.ts';
import { readPageData } from '../page-data.ts';
import { initClassesPage } from '../class-page.ts';

const data = readPageData<ClassesPageData>();
if (data) initClassesPage(data);
