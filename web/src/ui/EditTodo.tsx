// The edit panel. It fetches the todo for its ETag and saves with If-Match:
// when someone changed the todo meanwhile the API answers 412 and nothing is
// overwritten; the user is told and may reload the current version.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { ApiError } from "../api/errors";
import type { Todo, TodoPatch, TodosApi } from "../api/todos";
import { Field, Message } from "./Field";
import { describe, useAction, type Failure } from "./failure";

interface Draft {
  title: string;
  description: string;
  priority: string;
  completed: boolean;
}

const toDraft = (t: Todo): Draft => ({ title: t.title, description: t.description ?? "", priority: String(t.priority), completed: t.completed });

export function EditTodo(props: { todos: TodosApi; id: number; onClose: () => void; onChanged: () => void }) {
  const { todos, id, onClose, onChanged } = props;
  const [todo, setTodo] = useState<Todo | null>(null);
  const [etag, setEtag] = useState<string | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [conflict, setConflict] = useState(false);
  const [loadFailure, setLoadFailure] = useState<Failure | null>(null);
  const [saved, setSaved] = useState(false);

  const load = useCallback(async () => {
    setLoadFailure(null);
    try {
      const r = await todos.get(id);
      setTodo(r.todo);
      setEtag(r.etag);
      setDraft(toDraft(r.todo));
      setConflict(false);
    } catch (err) {
      setLoadFailure(describe(err));
    }
  }, [todos, id]);
  useEffect(() => void load(), [load]);

  // 412: the ETag is stale. Show it; do not retry, do not overwrite.
  const onConflict = (err: unknown) => {
    if (err instanceof ApiError && err.status === 412) {
      setConflict(true);
      return true;
    }
    return false;
  };

  const save = useAction(async () => {
    if (!todo || !draft) return;
    setSaved(false);
    const patch: TodoPatch = {};
    if (draft.title !== todo.title) patch.title = draft.title;
    if (draft.description !== (todo.description ?? "")) patch.description = draft.description === "" ? null : draft.description;
    if (Number(draft.priority) !== todo.priority) patch.priority = Number(draft.priority);
    if (draft.completed !== todo.completed) patch.completed = draft.completed;
    try {
      const r = await todos.update(id, patch, etag);
      setTodo(r.todo);
      setEtag(r.etag);
      setDraft(toDraft(r.todo));
      setSaved(true);
      onChanged();
    } catch (err) {
      if (!onConflict(err)) throw err;
    }
  });

  const remove = useAction(async () => {
    try {
      await todos.remove(id, etag);
      onChanged();
      onClose();
    } catch (err) {
      if (!onConflict(err)) throw err;
    }
  });

  const f = save.failure?.fieldErrors ?? {};
  const failure = loadFailure ?? save.failure ?? remove.failure;

  return (
    <section className="card edit" data-testid="edit-panel" data-id={id} data-ready={draft ? "true" : "false"}>
      <h2>Edit todo #{id}</h2>
      <Message testid="edit-message">{failure?.detail}</Message>
      {conflict && (
        <div className="conflict" data-testid="edit-conflict" role="alert">
          This todo was changed elsewhere since you opened it; your changes were not saved.{" "}
          <button data-testid="edit-reload" onClick={() => void load().then(onChanged)}>
            Reload it
          </button>
        </div>
      )}
      {draft && (
        <form onSubmit={(e: FormEvent) => (e.preventDefault(), void save.run())}>
          <Field label="Title" testid="edit-title" error={f.title}>
            <input data-testid="edit-title" value={draft.title} onChange={(e) => setDraft({ ...draft, title: e.target.value })} />
          </Field>
          <Field label="Description" testid="edit-description" error={f.description}>
            <textarea data-testid="edit-description" value={draft.description} onChange={(e) => setDraft({ ...draft, description: e.target.value })} />
          </Field>
          <Field label="Priority" testid="edit-priority" error={f.priority}>
            <select data-testid="edit-priority" value={draft.priority} onChange={(e) => setDraft({ ...draft, priority: e.target.value })}>
              {[0, 1, 2, 3, 4, 5].map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </Field>
          <label className="inline">
            <input data-testid="edit-completed" type="checkbox" checked={draft.completed} onChange={(e) => setDraft({ ...draft, completed: e.target.checked })} /> Done
          </label>
          <div className="buttons">
            <button data-testid="edit-save" disabled={save.busy || conflict}>
              Save
            </button>
            <button type="button" data-testid="edit-delete" disabled={remove.busy || conflict} onClick={() => void remove.run()}>
              Delete
            </button>
            <button type="button" data-testid="edit-close" onClick={onClose}>
              Close
            </button>
          </div>
          {saved && !conflict && (
            <p className="ok" data-testid="edit-status" role="status">
              Saved.
            </p>
          )}
        </form>
      )}
    </section>
  );
}
