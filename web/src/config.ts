// The app reads where the API and the auth server are at run time, from
// /config.json next to index.html, so one build serves every environment:
//   {"apiUrl": "http://localhost:8080", "betterAuthUrl": "http://localhost:3000/api/auth" | null}
// betterAuthUrl is the full base URL of the Better Auth routes, base path
// included (Neon Auth: https://ep-x.neonauth.REGION.aws.neon.tech/neondb/auth);
// null hides Better Auth sign-in and leaves this API's own accounts.
export interface AppConfig {
  apiUrl: string;
  betterAuthUrl: string | null;
}

export async function loadConfig(): Promise<AppConfig> {
  const url = new URL("config.json", document.baseURI);
  const res = await fetch(url, { cache: "no-store" });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText}`);
  const raw: unknown = await res.json();
  const c = raw as Partial<AppConfig>;
  if (typeof c.apiUrl !== "string" || !/^https?:\/\//.test(c.apiUrl)) {
    throw new Error(`${url}: "apiUrl" must be an http(s) URL`);
  }
  if (c.betterAuthUrl != null && (typeof c.betterAuthUrl !== "string" || !/^https?:\/\//.test(c.betterAuthUrl))) {
    throw new Error(`${url}: "betterAuthUrl" must be an http(s) URL or null`);
  }
  return { apiUrl: c.apiUrl.replace(/\/+$/, ""), betterAuthUrl: c.betterAuthUrl?.replace(/\/+$/, "") ?? null };
}
