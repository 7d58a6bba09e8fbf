// A labelled form control with the API's message for it underneath. The
// message's data-testid is the control's plus "-error".
import type { ReactElement, ReactNode } from "react";

export function Field(props: { label: string; testid: string; error?: string | undefined; children: ReactElement }) {
  return (
    <label className="field">
      <span className="field-label">{props.label}</span>
      {props.children}
      {props.error && (
        <span className="field-error" data-testid={`${props.testid}-error`} role="alert">
          {props.error}
        </span>
      )}
    </label>
  );
}

/** The message area of a form: the problem's detail. */
export function Message(props: { testid: string; children?: ReactNode }) {
  if (!props.children) return null;
  return (
    <p className="message" data-testid={props.testid} role="alert">
      {props.children}
    </p>
  );
}
