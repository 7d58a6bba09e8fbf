// The list: filters, sort, a debounced search, the total, "Load more" with
// next_cursor; the create form above it and the edit panel beside it.
import { useCallback, useEffect, useState } from "react";
import { isAbort } from "../api/errors";
import { SORTS, type ListQuery, type Sort, type Todo } from "../api/todos";
import type { Services } from "../services";
import { CreateTodo } from "./CreateTodo";
import { EditTodo } from "./EditTodo";
import { Message } from "./Field";
import { describe, type Failure } from "./failure";

const SORT_LABELS: Record<Sort, string> = {
  "-created_at": "newest first",
  created_at: "oldest first",
  "-priority": "highest priority first",
  priority: "lowest priority first",
  due_date: "due soonest first",
  "-due_date": "due latest first",
  title: "title A–Z",
  "-title": "title Z–A",
};
const PAGE_SIZES = [5, 20, 50, 100];

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

export function TodosPage({ services }: { services: Services }) {
  const { todos } = services;
  const [completed, setCompleted] = useState<"" | "true" | "false">("");
  const [minPriority, setMinPriority] = useState("");
  const [sort, setSort] = useState<Sort>("-created_at");
  const [search, setSearch] = useState("");
  const q = useDebounced(search.trim(), 300);
  const [limit, setLimit] = useState(20);
  const [reloads, setReloads] = useState(0);

  const [items, setItems] = useState<Todo[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [editing, setEditing] = useState<number | null>(null);

  // The same filters go with every page: a cursor is tied to them.
  const query: ListQuery = {
    limit,
    sort,
    ...(completed ? { completed: completed === "true" } : {}),
    ...(minPriority ? { min_priority: Number(minPriority) } : {}),
    ...(q ? { q } : {}),
  };
  const queryKey = JSON.stringify(query);

  // The first page, again whenever the filters change or after a write. A
  // GET that gets no answer is retried until it does (src/api/retry.ts);
  // a newer query aborts it.
  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    todos
      .list(JSON.parse(queryKey) as ListQuery, abort.signal)
      .then((page) => {
        setItems(page.items);
        setTotal(page.total);
        setNext(page.next_cursor);
        setFailure(null);
      })
      .catch((err: unknown) => {
        if (!isAbort(err)) setFailure(describe(err));
      })
      .finally(() => {
        if (!abort.signal.aborted) setLoading(false);
      });
    return () => abort.abort();
  }, [todos, queryKey, reloads]);

  const loadMore = useCallback(async () => {
    if (!next) return;
    setLoading(true);
    try {
      const page = await todos.list({ ...(JSON.parse(queryKey) as ListQuery), cursor: next });
      setItems((old) => [...old, ...page.items]);
      setTotal(page.total);
      setNext(page.next_cursor);
    } catch (err) {
      setFailure(describe(err));
    } finally {
      setLoading(false);
    }
  }, [todos, queryKey, next]);

  const reload = useCallback(() => setReloads((n) => n + 1), []);

  const remove = async (id: number) => {
    // From the list there is no ETag (list items carry none): delete as is.
    // The edit panel deletes with If-Match.
    try {
      await todos.remove(id);
      if (editing === id) setEditing(null);
      reload();
    } catch (err) {
      setFailure(describe(err));
    }
  };

  return (
    <main className="todos">
      <CreateTodo todos={todos} onCreated={reload} />

      <section className="card">
        <div className="filters">
          <label>
            Show{" "}
            <select data-testid="filter-completed" value={completed} onChange={(e) => setCompleted(e.target.value as typeof completed)}>
              <option value="">all</option>
              <option value="false">open</option>
              <option value="true">done</option>
            </select>
          </label>
          <label>
            Priority at least{" "}
            <select data-testid="filter-min-priority" value={minPriority} onChange={(e) => setMinPriority(e.target.value)}>
              <option value="">any</option>
              {[0, 1, 2, 3, 4, 5].map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <label>
            Sort{" "}
            <select data-testid="sort" value={sort} onChange={(e) => setSort(e.target.value as Sort)}>
              {SORTS.map((s) => (
                <option key={s} value={s}>
                  {SORT_LABELS[s]}
                </option>
              ))}
            </select>
          </label>
          <label>
            Search <input data-testid="search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="title or description" />
          </label>
          <label>
            Per page{" "}
            <select data-testid="page-size" value={limit} onChange={(e) => setLimit(Number(e.target.value))}>
              {PAGE_SIZES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <button data-testid="refresh" onClick={reload}>
            Refresh
          </button>
        </div>

        <p className="summary">
          Showing <span data-testid="shown">{items.length}</span> of <span data-testid="total">{total ?? "…"}</span>
        </p>
        <Message testid="list-message">{failure?.detail}</Message>

        <ul className="list" data-testid="todo-list" data-loading={loading ? "true" : "false"}>
          {items.map((t) => (
            <li key={t.id} data-testid="todo-item" data-id={t.id} data-completed={t.completed ? "true" : "false"} className={t.completed ? "done" : ""}>
              <span className="check">{t.completed ? "✓" : "○"}</span>
              <span className="title" data-testid="todo-title">
                {t.title}
              </span>
              <span className="prio" data-testid="todo-priority">
                P{t.priority}
              </span>
              {t.due_date && <span className="due">due {new Date(t.due_date).toLocaleString()}</span>}
              <button data-testid="todo-edit" onClick={() => setEditing(t.id)}>
                Edit
              </button>
              <button data-testid="todo-delete" onClick={() => void remove(t.id)}>
                Delete
              </button>
            </li>
          ))}
        </ul>
        {next && (
          <button data-testid="load-more" disabled={loading} onClick={() => void loadMore()}>
            Load more
          </button>
        )}
      </section>

      {editing !== null && (
        <EditTodo
          key={editing}
          todos={todos}
          id={editing}
          onClose={() => setEditing(null)}
          onChanged={reload}
        />
      )}
    </main>
  );
}
