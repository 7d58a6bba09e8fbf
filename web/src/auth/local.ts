// This API's own accounts: POST /auth/register, then POST /auth/login (JSON)
// for a bearer token (HS256, ACCESS_TOKEN_TTL, 1 h by default). A 401 later
// means the token expired or was revoked: sign in again.
import { call, type Api } from "../api/client";
import type { components } from "../api/schema";

export type RegisterInput = components["schemas"]["RegisterRequest"];
export type User = components["schemas"]["User"];

export async function registerLocal({ client }: Api, input: RegisterInput): Promise<User> {
  const { data } = await call(client.POST("/api/v1/auth/register", { body: input }));
  return data;
}

/** username may also be the email. */
export async function loginLocal({ client }: Api, username: string, password: string): Promise<string> {
  const { data } = await call(client.POST("/api/v1/auth/login", { body: { username, password } }));
  return data.access_token;
}
