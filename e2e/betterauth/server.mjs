// A real Better Auth application (email+password + jwt plugin) used by the
// todo API end-to-end tests as an external identity provider. The Go tests
// start it as a subprocess, wait for the "READY <url>" line on stdout, sign
// users up through /api/auth/*, fetch JWTs from /api/auth/token and point the
// API at /api/auth/jwks.
//
// Environment (see README.md):
//   DATABASE_URL            postgres URL of a database owned by this server (required)
//   PORT                    listen on 127.0.0.1:PORT (required; 0 = pick a free port)
//   BETTER_AUTH_URL         base URL, e.g. http://127.0.0.1:PORT (default: derived from the bound port)
//   BETTER_AUTH_SECRET      secret used to sign cookies / encrypt private keys (required, >= 32 chars recommended)
//   JWT_ALG                 EdDSA (default) | ES256 | ES512 | RS256 | PS256
//   JWT_EXPIRATION          token lifetime: plain seconds ("60") or a duration ("15m", "1 hour"); default 15m
//   JWT_ISSUER              iss claim (default: BETTER_AUTH_URL)
//   JWT_AUDIENCE            aud claim, comma separated for several (default: BETTER_AUTH_URL)
//   JWT_ROTATION_INTERVAL   seconds; Better Auth's own jwks.rotationInterval (default: unset = no automatic rotation)
//   JWT_GRACE_PERIOD        seconds an expired key stays in the JWKS (Better Auth default 2592000 = 30 days)
//   TRUSTED_ORIGINS         extra trusted origins, comma separated; also the origins
//                           allowed to call the auth routes from a browser (CORS with credentials)
//   BASE_PATH               where the Better Auth routes are (default /api/auth; Neon Auth: /neondb/auth)
//   JWKS_PATH               the jwt plugin's jwksPath below BASE_PATH (default /jwks;
//                           Neon Auth: /.well-known/jwks.json)
//   ADMIN_PLUGIN            1 to add Better Auth's admin() plugin (users get role, banned, ...;
//                           the tokens carry them, as Neon Auth's do)
//   BETTER_AUTH_TEST_ROUTES 1 to enable POST /test/rotate-keys and POST /test/ban

import http from "node:http";
import pg from "pg";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { jwt, createJwk } from "better-auth/plugins/jwt";
import { admin } from "better-auth/plugins";

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`betterauth-e2e: missing required env ${name}`);
    process.exit(2);
  }
  return v;
}

function optionalInt(name) {
  const v = process.env[name];
  if (v === undefined || v === "") return undefined;
  if (!/^\d+$/.test(v)) {
    console.error(`betterauth-e2e: ${name} must be an integer number of seconds, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return Number(v);
}

const databaseURL = required("DATABASE_URL");
const secret = required("BETTER_AUTH_SECRET");
const portEnv = required("PORT");
if (!/^\d+$/.test(portEnv)) {
  console.error(`betterauth-e2e: PORT must be a number, got ${JSON.stringify(portEnv)}`);
  process.exit(2);
}

const alg = process.env.JWT_ALG || "EdDSA";
const keyPairConfigs = {
  EdDSA: { alg: "EdDSA", crv: "Ed25519" },
  ES256: { alg: "ES256" },
  ES512: { alg: "ES512" },
  RS256: { alg: "RS256", modulusLength: 2048 },
  PS256: { alg: "PS256", modulusLength: 2048 },
};
if (!keyPairConfigs[alg]) {
  console.error(`betterauth-e2e: unsupported JWT_ALG ${JSON.stringify(alg)} (want one of ${Object.keys(keyPairConfigs).join(", ")})`);
  process.exit(2);
}

// Better Auth treats a *number* expirationTime as an absolute exp timestamp,
// so plain seconds are turned into a duration string ("60s").
let expirationTime = process.env.JWT_EXPIRATION || "15m";
if (/^\d+$/.test(expirationTime)) expirationTime = `${expirationTime}s`;

const testRoutes = process.env.BETTER_AUTH_TEST_ROUTES === "1";
const adminPlugin = process.env.ADMIN_PLUGIN === "1";
const listClean = (v) => (v || "").split(",").map((s) => s.trim()).filter(Boolean);
const trustedOrigins = listClean(process.env.TRUSTED_ORIGINS).map((o) => o.replace(/\/+$/, ""));

// A path below the origin: leading slash, no trailing slash, no "..".
function pathEnv(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  if (!v.startsWith("/") || v.includes("..") || /[?#\s]/.test(v)) {
    console.error(`betterauth-e2e: ${name} must be a path starting with "/", got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return v.length > 1 ? v.replace(/\/+$/, "") : v;
}
const basePath = pathEnv("BASE_PATH", "/api/auth");
const jwksPath = pathEnv("JWKS_PATH", undefined);

const pool = new pg.Pool({ connectionString: databaseURL, max: 10 });

// Bind first so PORT=0 works and BETTER_AUTH_URL can default to the real port.
const server = http.createServer();
try {
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(portEnv), "127.0.0.1", resolve);
  });
} catch (err) {
  if (err?.code === "EADDRINUSE") {
    console.error(`betterauth-e2e: cannot listen on 127.0.0.1:${portEnv}: the port is already in use (another process holds it; pick another PORT, or 0 for a free one)`);
  } else {
    console.error(`betterauth-e2e: cannot listen on 127.0.0.1:${portEnv}: ${err?.message || err}`);
  }
  await pool.end().catch(() => {});
  process.exit(1);
}
const boundPort = server.address().port;
const baseURL = process.env.BETTER_AUTH_URL || `http://127.0.0.1:${boundPort}`;

const audiences = listClean(process.env.JWT_AUDIENCE);
const jwtOptions = {
  jwks: {
    keyPairConfig: keyPairConfigs[alg],
    ...(jwksPath ? { jwksPath } : {}),
    ...(optionalInt("JWT_ROTATION_INTERVAL") !== undefined ? { rotationInterval: optionalInt("JWT_ROTATION_INTERVAL") } : {}),
    ...(optionalInt("JWT_GRACE_PERIOD") !== undefined ? { gracePeriod: optionalInt("JWT_GRACE_PERIOD") } : {}),
  },
  jwt: {
    expirationTime,
    ...(process.env.JWT_ISSUER ? { issuer: process.env.JWT_ISSUER } : {}),
    ...(audiences.length ? { audience: audiences.length === 1 ? audiences[0] : audiences } : {}),
  },
};

const authOptions = {
  appName: "todo-api-e2e",
  baseURL,
  basePath,
  secret,
  database: pool,
  emailAndPassword: { enabled: true },
  trustedOrigins,
  // Tests sign up many users quickly from one IP.
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  plugins: [jwt(jwtOptions), ...(adminPlugin ? [admin()] : [])],
};

// Schema via Better Auth's own programmatic migrator (same as `npx auth migrate`).
const migrations = await getMigrations(authOptions);
await migrations.runMigrations();

const auth = betterAuth(authOptions);
const authHandler = toNodeHandler(auth);

// Mint the first signing key now (with the jwt plugin's own createJwk) so
// concurrent first requests cannot race into two keys. Also done when the
// database only holds keys of another alg: the plugin would otherwise keep
// signing with the newest key of any alg.
{
  const ctx = await auth.$context;
  const now = new Date();
  const keys = await ctx.adapter.findMany({ model: "jwks" });
  if (!keys.some((k) => (k.alg ?? "EdDSA") === alg && (!k.expiresAt || k.expiresAt > now))) {
    await createJwk({ context: ctx }, jwtOptions);
  }
}

function sendJSON(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(data) });
  res.end(data);
}

// Test-only: start signing with a brand new key while keeping the old ones
// published. Uses the jwt plugin's own createJwk(); the plugin signs with the
// newest live key of the configured alg, and /jwks lists every key that has
// no expiresAt or expired less than gracePeriod ago.
//   POST /test/rotate-keys                   -> old keys stay valid and listed indefinitely
//   POST /test/rotate-keys?expire_previous=1 -> old keys get expiresAt=now, so they stay
//                                               in the JWKS only for JWT_GRACE_PERIOD seconds
async function rotateKeys(req, res) {
  const url = new URL(req.url, baseURL);
  const ctx = await auth.$context;
  const adapter = ctx.adapter;
  const before = await adapter.findMany({ model: "jwks" });
  const now = new Date();
  if (url.searchParams.get("expire_previous") === "1") {
    for (const k of before) {
      if (!k.expiresAt || k.expiresAt > now) {
        await adapter.update({ model: "jwks", where: [{ field: "id", value: k.id }], update: { expiresAt: now } });
      }
    }
  }
  const created = await createJwk({ context: ctx }, jwtOptions);
  sendJSON(res, 200, {
    kid: created.id,
    alg: created.alg,
    previous: before.map((k) => k.id),
  });
}

// Test-only: mark a user banned, as Better Auth's admin plugin records it
// (user.banned = true), without ending the user's sessions (the admin
// plugin's own banUser would delete them): the user's existing session
// cookie keeps working, so GET <base>/token shows what a token of a banned
// user carries. Needs ADMIN_PLUGIN=1 (the banned column).
//   POST /test/ban?email=a@example.com -> {"id","email","banned":true}
async function banUser(req, res) {
  if (!adminPlugin) return sendJSON(res, 400, { error: "POST /test/ban needs ADMIN_PLUGIN=1" });
  const email = new URL(req.url, baseURL).searchParams.get("email");
  if (!email) return sendJSON(res, 400, { error: "email is required" });
  const ctx = await auth.$context;
  const found = await ctx.internalAdapter.findUserByEmail(email.toLowerCase());
  if (!found) return sendJSON(res, 404, { error: `no user with email ${email}` });
  const user = await ctx.internalAdapter.updateUser(found.user.id, { banned: true, banReason: "banned by the e2e test" });
  sendJSON(res, 200, { id: user.id, email: user.email, banned: user.banned });
}

// CORS for the auth routes. Better Auth checks Origin against
// trustedOrigins (CSRF) but sets no CORS headers, so a browser app on another
// origin could not read its answers, nor send its cookie. The origins in
// TRUSTED_ORIGINS get credentialed CORS; a preflight from them is answered
// here (204); everyone else gets no CORS headers, so a browser blocks them.
const corsAllowMethods = "GET, POST, OPTIONS";
const corsAllowHeaders = "Content-Type, Authorization";
// Answers the request itself (a preflight) when it returns true.
function cors(req, res) {
  const origin = req.headers.origin;
  if (!origin) return false;
  const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
  res.setHeader("Vary", preflight ? "Origin, Access-Control-Request-Method, Access-Control-Request-Headers" : "Origin");
  const allowed = trustedOrigins.includes(origin);
  if (allowed) {
    res.setHeader("Access-Control-Allow-Origin", origin);
    res.setHeader("Access-Control-Allow-Credentials", "true");
  }
  if (!preflight) {
    if (allowed) res.setHeader("Access-Control-Expose-Headers", "set-auth-jwt");
    return false;
  }
  if (allowed) {
    res.setHeader("Access-Control-Allow-Methods", corsAllowMethods);
    res.setHeader("Access-Control-Allow-Headers", corsAllowHeaders);
    res.setHeader("Access-Control-Max-Age", "600");
  }
  res.writeHead(204, { "content-length": "0" });
  res.end();
  return true;
}

server.on("request", (req, res) => {
  const path = (req.url || "/").split("?")[0];
  if (path === basePath || path.startsWith(basePath === "/" ? "/" : basePath + "/")) {
    if (cors(req, res)) return;
    authHandler(req, res).catch((err) => {
      console.error("betterauth-e2e: handler error", err);
      if (!res.headersSent) sendJSON(res, 500, { error: "internal" });
    });
    return;
  }
  if (path === "/healthz" && req.method === "GET") return sendJSON(res, 200, { ok: true });
  if (testRoutes && path === "/test/rotate-keys" && req.method === "POST") {
    rotateKeys(req, res).catch((err) => {
      console.error("betterauth-e2e: rotate error", err);
      if (!res.headersSent) sendJSON(res, 500, { error: String(err?.message || err) });
    });
    return;
  }
  if (testRoutes && path === "/test/ban" && req.method === "POST") {
    banUser(req, res).catch((err) => {
      console.error("betterauth-e2e: ban error", err);
      if (!res.headersSent) sendJSON(res, 500, { error: String(err?.message || err) });
    });
    return;
  }
  sendJSON(res, 404, { error: "not found" });
});

let shuttingDown = false;
async function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  console.error(`betterauth-e2e: ${signal}, shutting down`);
  server.close();
  server.closeAllConnections();
  try {
    await pool.end();
  } catch {}
  process.exit(0);
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));

console.log(`READY ${baseURL}`);
