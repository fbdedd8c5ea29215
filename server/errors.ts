// Every error and diagnostic code Stepwise reports, in one table.
// Expected failures are values carrying one of these codes; exceptions are for broken invariants.

export const CODES = {
  // --- runbook diagnostics (file:line CODE message) ---
  FRONT_MATTER_YAML: { severity: 'error', text: 'front matter is not valid YAML' },
  FRONT_MATTER_FIELD: { severity: 'error', text: 'front matter field has the wrong type or is unknown' },
  VAR_INVALID: { severity: 'error', text: 'variable declaration is invalid' },
  VAR_DEFAULT_MISMATCH: { severity: 'error', text: "variable default does not match its pattern" },
  VAR_UNDECLARED: { severity: 'error', text: 'variable used but not declared in front matter' },
  BAD_REGEX: { severity: 'error', text: 'regular expression does not compile' },
  NO_TITLE: { severity: 'error', text: 'runbook has no title (H1 or front matter title)' },
  DUPLICATE_STEP_ID: { severity: 'error', text: 'two steps have the same id' },
  DUPLICATE_BLOCK_ID: { severity: 'error', text: 'two blocks have the same id' },
  DUPLICATE_RUNBOOK_ID: { severity: 'error', text: 'two runbooks have the same id' },
  UNKNOWN_ATTRIBUTE: { severity: 'error', text: 'unknown block attribute' },
  BAD_ATTRIBUTE: { severity: 'error', text: 'block attribute has an invalid value' },
  BAD_ATTRIBUTES_SYNTAX: { severity: 'error', text: 'block attributes cannot be parsed' },
  ANSWERS_INVALID: { severity: 'error', text: 'an answers block is not a YAML list of {expect, send}, or does not follow an interactive block' },
  BLOCK_OUTSIDE_STEP: { severity: 'error', text: 'executable block before the first step (H2)' },
  UNKNOWN_REQUIRES: { severity: 'error', text: 'requires names a runbook that does not exist' },
  STEP_WITHOUT_CHECK: { severity: 'warning', text: 'step has commands but no check' },
  NO_STEPS: { severity: 'warning', text: 'runbook has no steps (H2)' },
  READ_FAILED: { severity: 'error', text: 'runbook file cannot be read' },
  NESTED_BLOCK: { severity: 'warning', text: 'fenced block inside a list or quote is shown as text and never run' },
  NESTING_TOO_DEEP: { severity: 'error', text: 'Markdown nested too deeply to parse; what follows may be lost' },
  PARSE_FAILED: { severity: 'error', text: 'internal parser error (a bug in Stepwise)' },
  // Runbooks that span hosts (front matter roles:, block on=ROLE; docs/format.md, Roles).
  ROLE_INVALID: { severity: 'error', text: 'roles is not a list of distinct role names' },
  UNKNOWN_ROLE: { severity: 'error', text: 'on= names a role the runbook does not declare' },
  // Translations (NAME.<lang>.md checked against NAME.md, server/runbook/translation.ts).
  TRANSLATION_NO_SOURCE: { severity: 'error', text: 'translation has no source runbook beside it' },
  TRANSLATION_LANG: { severity: 'error', text: 'translation front matter lang is missing or does not match its file name' },
  TRANSLATION_FIELD: { severity: 'error', text: 'translation changes a front matter field that must stay as in the source' },
  TRANSLATION_MISSING_STEP: { severity: 'error', text: 'a step of the source is missing from the translation' },
  TRANSLATION_EXTRA_STEP: { severity: 'error', text: 'the translation has a step the source does not have' },
  TRANSLATION_ORDER: { severity: 'error', text: 'the translation has the steps or blocks of the source in another order' },
  TRANSLATION_MISSING_BLOCK: { severity: 'error', text: 'an executable block of the source is missing from the translation' },
  TRANSLATION_EXTRA_BLOCK: { severity: 'error', text: 'the translation has an executable block the source does not have' },
  TRANSLATION_BLOCK_DIFFERS: { severity: 'error', text: 'a command, check or file block differs from the source' },
  TRANSLATION_ATTRIBUTE_DIFFERS: { severity: 'error', text: 'a block attribute differs from the source' },
  TRANSLATION_UNTRANSLATED: { severity: 'warning', text: 'a step reads exactly as in the source (not translated)' },
  // Inventory files (--inventory, server/target/inventory.ts; docs/targets.md).
  INVENTORY_YAML: { severity: 'error', text: 'inventory is not valid YAML or cannot be read' },
  INVENTORY_FIELD: { severity: 'error', text: 'inventory field is unknown or has the wrong type' },
  INVENTORY_DUPLICATE: { severity: 'error', text: 'a host, group or field is defined twice' },
  INVENTORY_UNKNOWN_HOST: { severity: 'error', text: 'a group names a host the inventory does not define' },
  INVENTORY_BAD_PORT: { severity: 'error', text: 'port is not a whole number from 1 to 65535' },

  // --- API errors ({error:{code,message,field}}), each with the HTTP status it answers with ---
  UNAUTHORIZED: { severity: 'error', status: 401, text: 'missing or wrong token' },
  FORBIDDEN: { severity: 'error', status: 403, text: 'not allowed' },
  NOT_FOUND: { severity: 'error', status: 404, text: 'no such resource' },
  BAD_REQUEST: { severity: 'error', status: 400, text: 'request is malformed' },
  UNKNOWN_RUNBOOK: { severity: 'error', status: 400, text: 'no runbook with that id' },
  BROKEN_RUNBOOK: { severity: 'error', status: 400, text: 'runbook has errors and cannot run' },
  VAR_PATTERN: { severity: 'error', status: 400, text: 'variable value does not match its pattern' },
  UNKNOWN_VAR: { severity: 'error', status: 400, text: 'variable is not declared by the runbook' },
  UNKNOWN_TARGET: { severity: 'error', status: 400, text: 'no such target' },
  ROLE_BINDING: { severity: 'error', status: 400, text: 'the runbook\'s roles are not each bound to one target' },
  TARGET_FAILED: { severity: 'error', status: 503, text: 'the target could not be set up' },
  SESSION_ENDED: { severity: 'error', status: 409, text: 'the run’s shell session has ended' },
  SESSION_BUSY: { severity: 'error', status: 409, text: 'the terminal is running another command' },
  CONFIRM_REQUIRED: { severity: 'error', status: 409, text: 'block is destructive and needs confirmation' },
  RECORDING_FAILED: { severity: 'error', status: 500, text: 'the recording cannot be written' },
  PAYLOAD_TOO_LARGE: { severity: 'error', status: 413, text: 'request body too large' },
  THROTTLED: { severity: 'error', status: 429, text: 'too many failed sign-ins from this address: wait (Retry-After) and try again' },
  RUN_LIMIT: { severity: 'error', status: 429, text: 'too many live runs: end one before starting another' },
  ROLLBACK_REFUSED: { severity: 'error', status: 409, text: 'the run cannot be rolled back: it did not fail, was rolled back already, or has nothing to undo' },
  // Classrooms (server/class/, docs/classroom.md).
  STEP_LOCKED: { severity: 'error', status: 409, text: 'a training run executes its steps in order: an earlier step must pass first' },
  CLASS_ENDED: { severity: 'error', status: 409, text: 'the class has ended' },
  NO_MORE_HINTS: { severity: 'error', status: 409, text: 'every hint of this step is already revealed' },
  SOLUTION_LOCKED: { severity: 'error', status: 409, text: 'the solution is revealed after 3 failed attempts at the step, or by the trainer' },
  INTERNAL: { severity: 'error', status: 500, text: 'internal error (a bug in Stepwise; the log has the details)' },
} as const;

export type Code = keyof typeof CODES;
/** The codes an API failure can carry: those with an HTTP status. */
export type ApiCode = { [K in Code]: (typeof CODES)[K] extends { status: number } ? K : never }[Code];
/** The codes of runbook diagnostics (file:line CODE message). */
export type DiagnosticCode = Exclude<Code, ApiCode>;

export function isApiCode(code: Code): code is ApiCode {
  return 'status' in CODES[code];
}

/** The HTTP status a failure answers with: the API and the websocket upgrade both use it. */
export function httpStatus(code: ApiCode): number {
  return CODES[code].status;
}

export type Severity = 'error' | 'warning';

/** A located problem in a runbook: printed as `file:line CODE message`. */
export interface Diagnostic {
  file: string;
  line: number;
  code: Code;
  severity: Severity;
  message: string;
}

export function diagnostic(file: string, line: number, code: Code, message: string): Diagnostic {
  return { file, line, code, severity: CODES[code].severity, message };
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line} ${d.code} ${d.message}`;
}

/** An expected failure of an API call or engine operation. */
export interface Failure {
  code: ApiCode;
  message: string;
  field?: string;
}

export function failure(code: ApiCode, message: string, field?: string): Failure {
  return field === undefined ? { code, message } : { code, message, field };
}
