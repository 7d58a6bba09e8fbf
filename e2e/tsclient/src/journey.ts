// A user's journey through the API with a client generated from the
// server's own /openapi.json: register -> log in -> create a todo -> list
// todos. Every call is typed by src/schema.ts (`npm run generate`), so
// `tsc --noEmit` fails when the document and this client disagree, and this
// script exits non-zero with a clear message on any unexpected status.
//
//   BASE_URL=http://127.0.0.1:8080 npm run journey
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

const baseUrl = (process.env.BASE_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
const client = createClient<paths>({ baseUrl });

class JourneyError extends Error {}

/** Fails the journey unless the response has the expected status. */
function expectStatus(step: string, want: number, got: { response: Response; error?: unknown }): void {
  if (got.response.status !== want) {
    throw new JourneyError(
      `${step}: ${got.response.url} answered ${got.response.status}, want ${want}: ${JSON.stringify(got.error ?? null)}`,
    );
  }
}

/** Fails the journey unless cond holds. */
function check(step: string, cond: boolean, what: string): asserts cond {
  if (!cond) throw new JourneyError(`${step}: ${what}`);
}

async function main(): Promise<void> {
  const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const username = `ts_${suffix}`;
  const password = "correct horse battery";

  // 1. Register.
  const reg = await client.POST("/api/v1/auth/register", {
    body: { email: `${username}@example.com`, username, password },
  });
  expectStatus("register", 201, reg);
  check("register", reg.data !== undefined, "no body");
  const user = reg.data;
  check("register", user.username === username, `username = ${JSON.stringify(user.username)}, want ${username}`);
  check("register", user.is_active, "the new user is not active");
  console.log(`registered user #${user.id} ${user.username}`);

  // 2. Log in (JSON body).
  const login = await client.POST("/api/v1/auth/login", { body: { username, password } });
  expectStatus("login", 200, login);
  check("login", login.data !== undefined, "no body");
  const token = login.data;
  check("login", token.token_type === "bearer", `token_type = ${JSON.stringify(token.token_type)}`);
  check("login", token.access_token.length > 0, "empty access_token");
  console.log(`logged in: ${token.token_type} token, expires in ${token.expires_in}s`);
  const auth = { headers: { Authorization: `Bearer ${token.access_token}` } };

  // 3. Create a todo.
  const title = `Buy milk ${suffix}`;
  const created = await client.POST("/api/v1/todos", {
    ...auth,
    body: { title, priority: 3, due_date: "2030-12-01T17:00:00Z" },
  });
  expectStatus("create todo", 201, created);
  check("create todo", created.data !== undefined, "no body");
  const todo = created.data;
  check("create todo", todo.title === title, `title = ${JSON.stringify(todo.title)}`);
  check("create todo", todo.priority === 3, `priority = ${todo.priority}`);
  check("create todo", todo.completed === false, `completed = ${todo.completed}`);
  check("create todo", todo.description === null, `description = ${JSON.stringify(todo.description)}`);
  const location = created.response.headers.get("Location");
  check("create todo", location !== null && location.endsWith(`/todos/${todo.id}`), `Location = ${location}`);
  console.log(`created todo #${todo.id} ${JSON.stringify(todo.title)}`);

  // 4. List todos (with a typed query).
  const list = await client.GET("/api/v1/todos", {
    ...auth,
    params: { query: { sort: "-priority", limit: 10, completed: false } },
  });
  expectStatus("list todos", 200, list);
  check("list todos", list.data !== undefined, "no body");
  const page = list.data;
  check("list todos", page.total === 1, `total = ${page.total}, want 1`);
  check("list todos", page.limit === 10, `limit = ${page.limit}, want 10`);
  check("list todos", page.items.length === 1 && page.items[0]?.id === todo.id, `items = ${JSON.stringify(page.items)}`);
  check("list todos", page.next_cursor === null, `next_cursor = ${JSON.stringify(page.next_cursor)}`);
  console.log(`listed ${page.items.length} of ${page.total} todo(s)`);

  // Without a token the same list is refused.
  const anon = await client.GET("/api/v1/todos", {});
  expectStatus("list todos without a token", 401, anon);

  console.log("journey OK");
}

main().catch((err: unknown) => {
  if (err instanceof JourneyError) {
    console.error(`journey FAILED at ${err.message}`);
  } else {
    console.error(`journey FAILED against ${baseUrl}:`, err);
  }
  process.exit(1);
});
