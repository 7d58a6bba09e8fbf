// Says what the retrying fetch (src/api/retry.ts) is doing: "cannot reach the
// server, retrying" or "retrying in N s" from Retry-After.
import { useEffect, useState, useSyncExternalStore } from "react";
import type { ConnectionStatus } from "../api/connection";

export function ConnectionBanner({ connection }: { connection: ConnectionStatus }) {
  const state = useSyncExternalStore(connection.subscribe, connection.get);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (state.kind === "ok") return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [state]);
  if (state.kind === "ok") return null;
  const seconds = Math.max(0, Math.ceil((state.retryAt - now) / 1000));
  const text =
    state.kind === "offline"
      ? `Cannot reach the server, retrying${seconds > 0 ? ` in ${seconds} s` : ""}…`
      : `${state.status === 429 ? "Too many requests" : state.status === 503 ? "The server is not ready" : "Still saving"}; retrying in ${seconds} s…`;
  return (
    <div className="banner" data-testid="connection" data-state={state.kind} role="status">
      {text}
    </div>
  );
}
