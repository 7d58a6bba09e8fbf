// The create form. Each submit gets a fresh Idempotency-Key; the retrying
// fetch sends the same key again when an answer is lost, so a todo is made
// once. A replayed answer is shown as such.
import { useState, type FormEvent } from "react";
import { newIdempotencyKey, type TodosApi } from "../api/todos";
import { Field, Message } from "./Field";
import { useAction } from "./failure";

export function CreateTodo({ todos, onCreated }: { todos: TodosApi; onCreated: () => void }) {
  const [title, setTitle] = useState("");
  const [priority, setPriority] = useState("0");
  const [due, setDue] = useState("");
  const [status, setStatus] = useState<string | null>(null);

  const create = useAction(async () => {
    setStatus(null);
    const key = newIdempotencyKey(); // one per create, reused by its retries
    const { todo, replayed } = await todos.create(
      { title, priority: Number(priority), ...(due ? { due_date: new Date(due).toISOString() } : {}) },
      key,
    );
    setStatus(replayed ? `“${todo.title}” saved (the server already had it)` : `“${todo.title}” saved`);
    setTitle("");
    onCreated();
  });
  const f = create.failure?.fieldErrors ?? {};

  return (
    <section className="card">
      <form className="create" data-testid="create-form" onSubmit={(e: FormEvent) => (e.preventDefault(), void create.run())}>
        <Field label="New todo" testid="new-title" error={f.title}>
          <input data-testid="new-title" value={title} onChange={(e) => setTitle(e.target.value)} placeholder="What needs doing?" />
        </Field>
        <Field label="Priority" testid="new-priority" error={f.priority}>
          <select data-testid="new-priority" value={priority} onChange={(e) => setPriority(e.target.value)}>
            {[0, 1, 2, 3, 4, 5].map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Due" testid="new-due" error={f.due_date}>
          <input data-testid="new-due" type="datetime-local" value={due} onChange={(e) => setDue(e.target.value)} />
        </Field>
        <button data-testid="new-submit" disabled={create.busy}>
          Add
        </button>
      </form>
      <Message testid="create-message">{create.failure?.detail}</Message>
      {status && !create.failure && (
        <p className="ok" data-testid="create-status" role="status">
          {status}
        </p>
      )}
    </section>
  );
}
