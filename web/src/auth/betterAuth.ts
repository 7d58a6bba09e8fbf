// Sign-in with Better Auth (or Neon Auth, which is Better Auth): its own
// client library signs the user in with email + password (a session cookie
// on the auth server's origin, sent with credentials: "include"), and its
// jwt plugin's GET <base>/token turns that session into a short-lived JWT
// that this API accepts as a bearer token.
//
// The auth server must allow this app's origin: trustedOrigins, and CORS with
// credentials (Neon Auth: the app's domain in the console).
import { createAuthClient } from "better-auth/react";
import { jwtClient } from "better-auth/client/plugins";
import type { FieldErrors } from "../api/errors";

/** A refusal from the auth server, shaped like the API's errors for the forms. */
export class AuthServerError extends Error {
  constructor(
    readonly status: number | null,
    readonly detail: string,
    readonly fieldErrors: FieldErrors = {},
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    this.name = "AuthServerError";
  }
}

export function createBetterAuth(baseURL: string) {
  const authClient = createAuthClient({ baseURL, plugins: [jwtClient()] });

  // Better Auth's answers are {data, error}; a network failure throws.
  async function run<T>(what: string, p: () => Promise<{ data: T | null; error: BetterAuthFailure | null }>): Promise<T> {
    let r;
    try {
      r = await p();
    } catch (err) {
      throw new AuthServerError(null, `Cannot reach the sign-in server (${what}).`, {}, { cause: err });
    }
    if (r.error || r.data == null) throw toError(r.error);
    return r.data;
  }

  return {
    /** Signs up (and so in), and returns a JWT for the API. */
    async signUp(name: string, email: string, password: string): Promise<string> {
      await run("sign-up", () => authClient.signUp.email({ name, email, password }));
      return this.mustToken();
    },
    async signIn(email: string, password: string): Promise<string> {
      await run("sign-in", () => authClient.signIn.email({ email, password }));
      return this.mustToken();
    },
    /** A fresh JWT for the current session (authClient.token()), or null without one. */
    async token(): Promise<string | null> {
      try {
        const { data } = await authClient.token();
        return data?.token ?? null;
      } catch {
        return null;
      }
    },
    async mustToken(): Promise<string> {
      const { token } = await run("token", () => authClient.token());
      return token;
    },
    async signOut(): Promise<void> {
      try {
        await authClient.signOut();
      } catch {
        // The auth server is away: its cookie ends by itself.
      }
    },
  };
}

export type BetterAuth = ReturnType<typeof createBetterAuth>;

interface BetterAuthFailure {
  status: number;
  statusText?: string | undefined;
  code?: string | undefined;
  message?: string | undefined;
}

// Better Auth names no fields; its error codes do (USER_ALREADY_EXISTS,
// INVALID_EMAIL, PASSWORD_TOO_SHORT, ...).
function toError(e: BetterAuthFailure | null): AuthServerError {
  if (!e) return new AuthServerError(null, "The sign-in server sent no answer.");
  const detail = e.message || e.statusText || `The sign-in server answered ${e.status}.`;
  const code = e.code ?? "";
  const fields: FieldErrors = {};
  if (code === "INVALID_EMAIL_OR_PASSWORD") {
    // Deliberately not saying which.
  } else if (code.includes("PASSWORD")) fields.password = detail;
  else if (code.includes("EMAIL") || code.startsWith("USER_ALREADY_EXISTS")) fields.email = detail;
  else if (code.includes("NAME")) fields.name = detail;
  return new AuthServerError(e.status, detail, fields);
}
