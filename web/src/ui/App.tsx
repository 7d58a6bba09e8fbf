import { useMemo, useSyncExternalStore } from "react";
import type { AppConfig } from "../config";
import { createServices } from "../services";
import { ConnectionBanner } from "./ConnectionBanner";
import { SignIn } from "./SignIn";
import { TodosPage } from "./TodosPage";

export function App({ config }: { config: AppConfig }) {
  const services = useMemo(() => createServices(config), [config]);
  const session = useSyncExternalStore(services.session.subscribe, services.session.get);
  return (
    <div className="app">
      <header>
        <h1>Todos</h1>
        {session && (
          <span className="who">
            <span data-testid="whoami">{session.who}</span>{" "}
            <button data-testid="sign-out" onClick={() => void services.signOut()}>
              Sign out
            </button>
          </span>
        )}
      </header>
      <ConnectionBanner connection={services.api.connection} />
      {session ? <TodosPage services={services} key={session.who} /> : <SignIn services={services} />}
    </div>
  );
}
