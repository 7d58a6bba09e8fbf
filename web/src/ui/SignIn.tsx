// The sign-in screen: this API's own register + login, and, when
// config.json names a Better Auth server, Better Auth sign-up + sign-in.
import { useState, type FormEvent } from "react";
import { loginLocal, registerLocal } from "../auth/local";
import type { Services } from "../services";
import { Field, Message } from "./Field";
import { useAction } from "./failure";

export function SignIn({ services }: { services: Services }) {
  const notice = services.session.lastNotice();
  return (
    <main className="signin">
      {notice && (
        <p className="notice" data-testid="signin-notice" role="status">
          {notice}
        </p>
      )}
      <div className="columns">
        <LocalAccount services={services} />
        {services.betterAuth && <BetterAuthAccount services={services} />}
      </div>
    </main>
  );
}

function LocalAccount({ services }: { services: Services }) {
  const [email, setEmail] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [loginName, setLoginName] = useState("");
  const [loginPassword, setLoginPassword] = useState("");
  const [registered, setRegistered] = useState<string | null>(null);

  const register = useAction(async () => {
    const user = await registerLocal(services.api, { email, username, password });
    setRegistered(`Registered ${user.username}. Sign in below.`);
    setLoginName(user.username);
    setPassword("");
  });
  const login = useAction(async () => {
    const token = await loginLocal(services.api, loginName, loginPassword);
    services.session.signIn({ method: "local", token, who: loginName });
  });
  const rf = register.failure?.fieldErrors ?? {};
  const lf = login.failure?.fieldErrors ?? {};

  return (
    <section className="card">
      <h2>Account on this API</h2>
      <form data-testid="register-form" onSubmit={(e: FormEvent) => (e.preventDefault(), void register.run())}>
        <h3>Register</h3>
        <Field label="Email" testid="register-email" error={rf.email}>
          <input data-testid="register-email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="email" />
        </Field>
        <Field label="Username" testid="register-username" error={rf.username}>
          <input data-testid="register-username" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" />
        </Field>
        <Field label="Password" testid="register-password" error={rf.password}>
          <input data-testid="register-password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />
        </Field>
        <button data-testid="register-submit" disabled={register.busy}>Register</button>
        <Message testid="register-message">{register.failure?.detail}</Message>
        {registered && !register.failure && (
          <p className="ok" data-testid="register-done">
            {registered}
          </p>
        )}
      </form>
      <form data-testid="login-form" onSubmit={(e: FormEvent) => (e.preventDefault(), void login.run())}>
        <h3>Sign in</h3>
        <Field label="Username or email" testid="login-username" error={lf.username}>
          <input data-testid="login-username" value={loginName} onChange={(e) => setLoginName(e.target.value)} autoComplete="username" />
        </Field>
        <Field label="Password" testid="login-password" error={lf.password}>
          <input data-testid="login-password" type="password" value={loginPassword} onChange={(e) => setLoginPassword(e.target.value)} autoComplete="current-password" />
        </Field>
        <button data-testid="login-submit" disabled={login.busy}>Sign in</button>
        <Message testid="login-message">{login.failure?.detail}</Message>
      </form>
    </section>
  );
}

function BetterAuthAccount({ services }: { services: Services }) {
  const ba = services.betterAuth!;
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [inEmail, setInEmail] = useState("");
  const [inPassword, setInPassword] = useState("");

  const signUp = useAction(async () => {
    const token = await ba.signUp(name, email, password);
    services.session.signIn({ method: "better-auth", token, who: email });
  });
  const signIn = useAction(async () => {
    const token = await ba.signIn(inEmail, inPassword);
    services.session.signIn({ method: "better-auth", token, who: inEmail });
  });
  const uf = signUp.failure?.fieldErrors ?? {};
  const sf = signIn.failure?.fieldErrors ?? {};

  return (
    <section className="card">
      <h2>Better Auth</h2>
      <form data-testid="ba-signup-form" onSubmit={(e: FormEvent) => (e.preventDefault(), void signUp.run())}>
        <h3>Sign up</h3>
        <Field label="Name" testid="ba-signup-name" error={uf.name}>
          <input data-testid="ba-signup-name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="name" />
        </Field>
        <Field label="Email" testid="ba-signup-email" error={uf.email}>
          <input data-testid="ba-signup-email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="email" />
        </Field>
        <Field label="Password" testid="ba-signup-password" error={uf.password}>
          <input data-testid="ba-signup-password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />
        </Field>
        <button data-testid="ba-signup-submit" disabled={signUp.busy}>Sign up</button>
        <Message testid="ba-signup-message">{signUp.failure?.detail}</Message>
      </form>
      <form data-testid="ba-signin-form" onSubmit={(e: FormEvent) => (e.preventDefault(), void signIn.run())}>
        <h3>Sign in</h3>
        <Field label="Email" testid="ba-signin-email" error={sf.email}>
          <input data-testid="ba-signin-email" type="email" value={inEmail} onChange={(e) => setInEmail(e.target.value)} autoComplete="email" />
        </Field>
        <Field label="Password" testid="ba-signin-password" error={sf.password}>
          <input data-testid="ba-signin-password" type="password" value={inPassword} onChange={(e) => setInPassword(e.target.value)} autoComplete="current-password" />
        </Field>
        <button data-testid="ba-signin-submit" disabled={signIn.busy}>Sign in</button>
        <Message testid="ba-signin-message">{signIn.failure?.detail}</Message>
      </form>
    </section>
  );
}
