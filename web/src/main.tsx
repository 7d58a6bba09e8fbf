import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { loadConfig } from "./config";
import { App } from "./ui/App";
import "./ui/styles.css";

const root = createRoot(document.getElementById("root")!);
loadConfig().then(
  (config) =>
    root.render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    ),
  (err: unknown) =>
    root.render(
      <p className="message" data-testid="config-error" role="alert">
        Cannot load config.json: {err instanceof Error ? err.message : String(err)}
      </p>,
    ),
);
