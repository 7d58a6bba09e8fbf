// Wires the app's parts from the configuration: the session (token source),
// the Better Auth client when configured, the API client and its todo calls.
import { call, createApi, type Api } from "./api/client";
import { todosApi, type TodosApi } from "./api/todos";
import { createBetterAuth, type BetterAuth } from "./auth/betterAuth";
import { SessionStore } from "./auth/session";
import type { AppConfig } from "./config";

export interface Services {
  config: AppConfig;
  session: SessionStore;
  betterAuth: BetterAuth | null;
  api: Api;
  todos: TodosApi;
  /** Ends the session here and at the API (POST /auth/logout) and, for Better Auth, there. */
  signOut(): Promise<void>;
}

export function createServices(config: AppConfig): Services {
  const betterAuth = config.betterAuthUrl ? createBetterAuth(config.betterAuthUrl) : null;
  const session = new SessionStore(betterAuth);
  const api = createApi(config.apiUrl, session);
  async function signOut(): Promise<void> {
    const token = session.current();
    // Signed out here first, so the screen changes at once and the bearer
    // middleware adds nothing (a 401 here must not trigger a refresh).
    const done = session.signOut();
    if (token) {
      // The API ends this token on every instance; best effort: it expires anyway.
      await call(api.client.POST("/api/v1/auth/logout", { headers: { Authorization: `Bearer ${token}` } })).catch(() => undefined);
    }
    await done;
  }
  return { config, session, betterAuth, api, todos: todosApi(api), signOut };
}
