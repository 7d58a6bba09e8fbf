// Who is signed in, and the bearer token the API gets: the TokenSource of
// src/api/client.ts.
//
// The token is kept in sessionStorage, not only in memory: a reload of the
// tab keeps the user signed in, yet the token is never shared with other
// tabs, and it is gone when the tab closes (localStorage would keep a bearer
// token on disk for any later visitor of this browser). Memory alone would
// be no safer against a script injected into the page, which could call the
// API from the page anyway; the defence there is not rendering untrusted
// HTML (React escapes text) and a strict Content-Security-Policy.
import type { TokenSource } from "../api/client";
import type { BetterAuth } from "./betterAuth";

export type SignInMethod = "local" | "better-auth";

export interface Session {
  method: SignInMethod;
  token: string;
  /** What the header shows: a username or an email. */
  who: string;
}

const KEY = "todo-app.session";

export class SessionStore implements TokenSource {
  private session: Session | null = load();
  private notice: string | null = null;
  private refreshing: Promise<string | null> | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly betterAuth: BetterAuth | null) {}

  // For useSyncExternalStore.
  get = (): Session | null => this.session;
  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  /** Why the user was signed out, for the sign-in screen. */
  lastNotice(): string | null {
    return this.notice;
  }

  signIn(session: Session): void {
    this.notice = null;
    this.set(session);
  }

  async signOut(): Promise<void> {
    const was = this.session;
    this.set(null);
    if (was?.method === "better-auth") await this.betterAuth?.signOut();
  }

  // TokenSource
  current(): string | null {
    return this.session?.token ?? null;
  }

  /** After a 401: a Better Auth session can mint a new JWT; our own tokens cannot be renewed. */
  refresh(): Promise<string | null> {
    const s = this.session;
    if (s?.method !== "better-auth" || !this.betterAuth) return Promise.resolve(null);
    // Several requests can get their 401 at once: one refresh serves them all.
    this.refreshing ??= this.betterAuth
      .token()
      .then((token) => {
        if (token && this.session === s) this.set({ ...s, token });
        return token;
      })
      .catch(() => null)
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  expired(): void {
    if (!this.session) return;
    this.notice = "Your session has ended. Please sign in again.";
    this.set(null);
  }

  private set(next: Session | null): void {
    this.session = next;
    if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
    else sessionStorage.removeItem(KEY);
    for (const l of this.listeners) l();
  }
}

function load(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? "null") as Session | null;
    return s && typeof s.token === "string" ? s : null;
  } catch {
    return null;
  }
}
