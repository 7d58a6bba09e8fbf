// The fetch every API call goes through (openapi-fetch's `fetch` option).
// It retries only what is safe to send again:
//
// - no answer (fetch throws): a GET is retried with backoff until it
//   answers; a POST carrying an Idempotency-Key is retried a few times with
//   the SAME key (the server replays the first answer if it did the work,
//   with Idempotent-Replayed: true). Anything else (PATCH, DELETE, login) is
//   not retried: it may have been done, and the user decides.
// - 429 and 503: the server did not do the work, so any request is sent
//   again after Retry-After; so is a 409 with Retry-After to a create with
//   an Idempotency-Key (the first attempt is still running).
//
// While it waits it tells ConnectionStatus, so the UI can say "cannot reach
// the server, retrying" or "retrying in N s".
import type { ConnectionStatus } from "./connection";
import { NetworkError, parseRetryAfter } from "./errors";

/** Attempts after the first for writes (reads retry until they get an answer). */
export const WRITE_RETRIES = 5;
/** A Retry-After longer than this is shown to the user rather than waited out. */
export const MAX_AUTO_WAIT_S = 60;

export function backoffMs(attempt: number): number {
  const base = Math.min(4000, 250 * 2 ** attempt);
  return Math.round(base * (0.8 + Math.random() * 0.4)); // ±20 % jitter
}

export function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export function resilientFetch(status: ConnectionStatus, baseFetch: typeof fetch = (...a) => globalThis.fetch(...a)) {
  return async function fetchWithRetries(request: Request): Promise<Response> {
    const isRead = request.method === "GET" || request.method === "HEAD";
    const hasKey = request.headers.has("Idempotency-Key");
    const networkRetries = isRead ? Infinity : hasKey ? WRITE_RETRIES : 0;
    const busyRetries = isRead ? Infinity : WRITE_RETRIES;
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        // A Request's body can be read once: every attempt sends a copy.
        response = await baseFetch(request.clone());
      } catch (err) {
        if (request.signal.aborted) throw err;
        if (attempt >= networkRetries) {
          status.set({ kind: "ok" }); // nothing is being retried any more
          throw new NetworkError(undefined, { cause: err });
        }
        const wait = backoffMs(attempt);
        status.set({ kind: "offline", retryAt: Date.now() + wait });
        await sleep(wait, request.signal);
        continue;
      }
      const after = parseRetryAfter(response.headers.get("Retry-After"));
      const busy =
        response.status === 429 ||
        response.status === 503 ||
        (response.status === 409 && hasKey && after !== null);
      if (busy && attempt < busyRetries && (after ?? 0) <= MAX_AUTO_WAIT_S) {
        const wait = Math.max(250, (after ?? 2) * 1000);
        status.set({ kind: "busy", status: response.status, retryAt: Date.now() + wait });
        await response.body?.cancel();
        await sleep(wait, request.signal);
        continue;
      }
      status.set({ kind: "ok" });
      return response;
    }
  };
}
