// The todo operations of the API, typed by the document. Each returns what a
// UI needs next: the todo and its ETag (for If-Match), whether a create was
// replayed. Framework-agnostic, like the rest of src/api/.
//
// Room left for later: a trash view, GET /sync (delta sync) and live updates
// from GET /sync/events (Server-Sent Events read with fetch, resuming with
// Last-Event-ID) would be functions beside these, on the same client.
import type { components, paths } from "./schema";
import { call, type Api } from "./client";

export type Todo = components["schemas"]["Todo"];
export type TodoCreate = components["schemas"]["TodoCreate"];
export type TodoPatch = components["schemas"]["TodoPatch"];
export type TodoPage = components["schemas"]["TodoList"];
export type ListQuery = NonNullable<paths["/api/v1/todos"]["get"]["parameters"]["query"]>;
export type Sort = NonNullable<ListQuery["sort"]>;

/** Every sort the document allows (the compiler checks none is missing). */
export const SORTS = ["-created_at", "created_at", "-priority", "priority", "due_date", "-due_date", "title", "-title"] as const satisfies readonly Sort[];
type MissingSort = Exclude<Sort, (typeof SORTS)[number]>;
const allSorts: [MissingSort] extends [never] ? true : MissingSort = true;
void allSorts;

/** A UUID for Idempotency-Key; crypto.randomUUID needs a secure context (https or localhost). */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function todosApi({ client }: Api) {
  return {
    /** One page; pass the previous page's next_cursor as query.cursor for the next. */
    async list(query: ListQuery, signal?: AbortSignal): Promise<TodoPage> {
      const { data } = await call(client.GET("/api/v1/todos", { params: { query }, ...(signal ? { signal } : {}) }));
      return data;
    },

    /** The todo and its ETag, to send back as If-Match. */
    async get(id: number): Promise<{ todo: Todo; etag: string | null }> {
      const { data, response } = await call(client.GET("/api/v1/todos/{id}", { params: { path: { id: String(id) } } }));
      return { todo: data, etag: response.headers.get("ETag") };
    },

    /**
     * Creates once, even if the answer is lost: the key goes with every retry
     * (src/api/retry.ts), and a retry of a create the server already did is
     * answered from its record, with Idempotent-Replayed: true.
     */
    async create(input: TodoCreate, key = newIdempotencyKey()): Promise<{ todo: Todo; etag: string | null; replayed: boolean }> {
      const { data, response } = await call(
        client.POST("/api/v1/todos", { body: input, params: { header: { "Idempotency-Key": key } } }),
      );
      return { todo: data, etag: response.headers.get("ETag"), replayed: response.headers.get("Idempotent-Replayed") === "true" };
    },

    /** Changes the todo only if it is still at etag: else ApiError 412. */
    async update(id: number, patch: TodoPatch, etag: string | null): Promise<{ todo: Todo; etag: string | null }> {
      const { data, response } = await call(
        client.PATCH("/api/v1/todos/{id}", {
          params: { path: { id: String(id) }, header: etag ? { "If-Match": etag } : {} },
          body: patch,
        }),
      );
      return { todo: data, etag: response.headers.get("ETag") };
    },

    /** Deletes; with an etag only if the todo is unchanged (else ApiError 412). */
    async remove(id: number, etag?: string | null): Promise<void> {
      await call(
        client.DELETE("/api/v1/todos/{id}", {
          params: { path: { id: String(id) }, header: etag ? { "If-Match": etag } : {} },
        }),
      );
    },
  };
}

export type TodosApi = ReturnType<typeof todosApi>;
