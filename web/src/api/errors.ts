// The two ways a call to the API fails, as values a UI can show.
//
// ApiError: the server answered with an error status. Every error of this API
// is application/problem+json (RFC 9457); `errors` names the fields at fault,
// which the UI shows next to the form field of the same name.
// NetworkError: no answer at all (server down, connection cut, CORS refused):
// the request may or may not have been done.
import type { components } from "./schema";

export type Problem = components["schemas"]["Problem"];

/** A field's message, by the name the API uses (title, priority, email, ...). */
export type FieldErrors = Record<string, string>;

export class ApiError extends Error {
  readonly status: number;
  /** The problem's `detail`, or a generic sentence when the body was not a problem. */
  readonly detail: string;
  readonly fieldErrors: FieldErrors;
  /** Seconds from Retry-After (429, 503, 409 in progress), or null. */
  readonly retryAfter: number | null;
  readonly type: string | null;

  constructor(status: number, detail: string, fieldErrors: FieldErrors = {}, retryAfter: number | null = null, type: string | null = null) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.fieldErrors = fieldErrors;
    this.retryAfter = retryAfter;
    this.type = type;
  }

  /** Builds the error from a response and its parsed body (openapi-fetch's `error`). */
  static from(response: Response, body: unknown): ApiError {
    const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
    if (isProblem(body)) {
      const fields: FieldErrors = {};
      for (const e of body.errors ?? []) {
        // The first message per field is enough for a form.
        fields[e.field] ??= e.message;
      }
      return new ApiError(response.status, body.detail, fields, retryAfter, body.type);
    }
    return new ApiError(response.status, `The server answered ${response.status} ${response.statusText}`.trim(), {}, retryAfter);
  }
}

export class NetworkError extends Error {
  constructor(message = "Cannot reach the server.", options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NetworkError";
  }
}

function isProblem(v: unknown): v is Problem {
  return typeof v === "object" && v !== null && typeof (v as Problem).status === "number" && typeof (v as Problem).detail === "string";
}

/** Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null): number | null {
  if (value === null || value.trim() === "") return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** True for the error an AbortSignal raises: the caller gave up, nothing to show. */
export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === "AbortError";
}
