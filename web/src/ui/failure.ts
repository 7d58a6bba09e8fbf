// One shape for everything that can go wrong, as the forms show it: a
// sentence for the message area and messages per field.
import { useCallback, useState } from "react";
import { ApiError, NetworkError, isAbort, type FieldErrors } from "../api/errors";
import { AuthServerError } from "../auth/betterAuth";

export interface Failure {
  status: number | null;
  detail: string;
  fieldErrors: FieldErrors;
}

export function describe(err: unknown): Failure {
  if (err instanceof ApiError) {
    let detail = err.detail;
    if (err.status === 429 && err.retryAfter !== null) detail += ` Try again in ${formatWait(err.retryAfter)}.`;
    return { status: err.status, detail, fieldErrors: err.fieldErrors };
  }
  if (err instanceof AuthServerError) return { status: err.status, detail: err.detail, fieldErrors: err.fieldErrors };
  if (err instanceof NetworkError) {
    return { status: null, detail: "Cannot reach the server; nothing was confirmed. Check your connection and try again.", fieldErrors: {} };
  }
  return { status: null, detail: err instanceof Error ? err.message : String(err), fieldErrors: {} };
}

function formatWait(s: number): string {
  return s < 90 ? `${s} s` : `${Math.ceil(s / 60)} min`;
}

/** Runs an async action for a form: busy while it runs, its failure after. */
export function useAction<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const run = useCallback(
    async (...args: A) => {
      setBusy(true);
      setFailure(null);
      try {
        await fn(...args);
      } catch (err) {
        if (!isAbort(err)) setFailure(describe(err));
      } finally {
        setBusy(false);
      }
    },
    [fn],
  );
  return { run, busy, failure, setFailure };
}
