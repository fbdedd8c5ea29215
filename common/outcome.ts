// An expected failure is a value, not an exception: operations that can fail for reasons a
// caller must handle return an Outcome (exceptions are for broken invariants).
// Type-only import: server/errors.ts is a pure table, so this stays loadable anywhere.
import type { Failure } from '../server/errors.ts';

export type Outcome<T, E = Failure> = { ok: true; value: T } | { ok: false; error: E };
