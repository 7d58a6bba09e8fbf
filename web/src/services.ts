// Wires the app's parts from the configuration: the session (token source),
// the Better Auth client when configured, the API client and its todo calls.
import { createApi, type Api } from "./api/client";
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
}

export function createServices(config: AppConfig): Services {
  const betterAuth = config.betterAuthUrl ? createBetterAuth(config.betterAuthUrl) : null;
  const session = new SessionStore(betterAuth);
  const api = createApi(config.apiUrl, session);
  return { config, session, betterAuth, api, todos: todosApi(api) };
}
