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
//   TRUSTED_ORIGINS         extra trusted origins, comma separated
//   BETTER_AUTH_TEST_ROUTES 1 to enable POST /test/rotate-keys

import http from "node:http";
import pg from "pg";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { jwt, createJwk } from "better-auth/plugins/jwt";

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
const listClean = (v) => (v || "").split(",").map((s) => s.trim()).filter(Boolean);

const pool = new pg.Pool({ connectionString: databaseURL, max: 10 });

// Bind first so PORT=0 works and BETTER_AUTH_URL can default to the real port.
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(Number(portEnv), "127.0.0.1", resolve);
});
const boundPort = server.address().port;
const baseURL = process.env.BETTER_AUTH_URL || `http://127.0.0.1:${boundPort}`;

const audiences = listClean(process.env.JWT_AUDIENCE);
const jwtOptions = {
  jwks: {
    keyPairConfig: keyPairConfigs[alg],
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
  secret,
  database: pool,
  emailAndPassword: { enabled: true },
  trustedOrigins: listClean(process.env.TRUSTED_ORIGINS),
  // Tests sign up many users quickly from one IP.
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  plugins: [jwt(jwtOptions)],
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

server.on("request", (req, res) => {
  const path = (req.url || "/").split("?")[0];
  if (path === "/api/auth" || path.startsWith("/api/auth/")) {
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
