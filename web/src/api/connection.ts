// What the user should see about the connection to the API while requests
// are being retried: a tiny store (subscribe/get) any UI can read; React
// reads it with useSyncExternalStore (src/ui/ConnectionBanner.tsx).

export type ConnectionState =
  | { kind: "ok" }
  /** A request got no answer; it is tried again at retryAt (ms since the epoch). */
  | { kind: "offline"; retryAt: number }
  /** The server said "not now" (429, 503, or 409 for a create still running) with Retry-After. */
  | { kind: "busy"; status: number; retryAt: number };

export class ConnectionStatus {
  private state: ConnectionState = { kind: "ok" };
  private readonly listeners = new Set<() => void>();

  get = (): ConnectionState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  set(next: ConnectionState): void {
    if (next.kind === "ok" && this.state.kind === "ok") return;
    this.state = next;
    for (const l of this.listeners) l();
  }
}
