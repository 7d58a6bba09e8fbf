// The API client: openapi-fetch typed by the OpenAPI document
// (src/api/schema.d.ts, generated from ../apidocs/openapi.yaml by
// `npm run generate`), with
//   - a bearer middleware: Authorization from a TokenSource; on a 401 it asks
//     the source once for a fresh token and repeats the request; a second 401
//     ends the session (TokenSource.expired);
//   - the retrying fetch of ./retry.ts (network errors, 429, 503);
//   - `call()`, which turns a problem+json answer into an ApiError.
// Nothing here knows React: copy src/api/ into any app.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";
import { ConnectionStatus } from "./connection";
import { ApiError, NetworkError, isAbort } from "./errors";
import { resilientFetch } from "./retry";

/** Where the bearer token comes from (src/auth/ implements it). */
export interface TokenSource {
  /** The token to send now, or null when signed out. */
  current(): string | null;
  /** A new token after a 401 (Better Auth: authClient.token()), or null when none can be had. */
  refresh(): Promise<string | null>;
  /** The API refused the session even after a refresh: sign out. */
  expired(): void;
}

export function bearerMiddleware(tokens: TokenSource): Middleware {
  // A copy of each request that carried a token, to repeat it after a refresh.
  const copies = new Map<string, Request>();
  return {
    onRequest({ request, id }) {
      const token = tokens.current();
      if (!token) return undefined;
      request.headers.set("Authorization", `Bearer ${token}`);
      copies.set(id, request.clone());
      return request;
    },
    async onResponse({ response, id, options }) {
      const copy = copies.get(id);
      copies.delete(id);
      if (response.status !== 401 || !copy) return undefined;
      const token = await tokens.refresh();
      if (token) {
        copy.headers.set("Authorization", `Bearer ${token}`);
        const again = await options.fetch(copy);
        if (again.status !== 401) return again;
        response = again;
      }
      tokens.expired();
      return response;
    },
    onError({ id }) {
      copies.delete(id);
      return undefined;
    },
  };
}

export type ApiClient = ReturnType<typeof createClient<paths>>;

export interface Api {
  client: ApiClient;
  connection: ConnectionStatus;
}

export function createApi(baseUrl: string, tokens: TokenSource, connection = new ConnectionStatus()): Api {
  const client = createClient<paths>({ baseUrl, fetch: resilientFetch(connection) });
  client.use(bearerMiddleware(tokens));
  return { client, connection };
}

/** What openapi-fetch resolves to. */
type FetchResult<T> = { data?: T; error?: unknown; response: Response };

/**
 * Awaits an openapi-fetch call: the data and the response (for ETag and other
 * headers) on success; ApiError for an error status; NetworkError when no
 * answer came. An abort is rethrown as is (isAbort).
 */
export async function call<T>(pending: Promise<FetchResult<T>>): Promise<{ data: T; response: Response }> {
  let result: FetchResult<T>;
  try {
    result = await pending;
  } catch (err) {
    if (isAbort(err) || err instanceof NetworkError) throw err;
    throw new NetworkError(undefined, { cause: err });
  }
  if (!result.response.ok) throw ApiError.from(result.response, result.error);
  return { data: result.data as T, response: result.response };
}
