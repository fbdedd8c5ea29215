// The approvals page's script: Approve / Reject (approvals-page.ts).
import { initApprovals } from '../approvals-page.ts';

initApprovals();
