// Package apidocs serves the OpenAPI 3.1 document of the API and an
// interactive page for it (Swagger UI), both embedded in the binary.
//
// The document is written by hand (openapi.yaml) rather than generated from
// the Go types: the contract came first, a frontend team reads it, and the
// HTTP test suite proves that the server matches it (every request and
// response the tests make is validated against it, and the routes of the
// router and of the document are the same set).
package apidocs

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed openapi.yaml
var specYAML []byte

//go:embed swagger-ui/swagger-ui-bundle.js swagger-ui/swagger-ui.css swagger-ui/favicon-32x32.png swagger-ui/init.js
var assets embed.FS

// defaultPrefix is the API prefix the document is written with.
const defaultPrefix = "/api/v1"

// Spec returns the document as JSON, with paths under prefix (API_V1_PREFIX)
// and the title set to the project name.
func Spec(prefix, title string) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(specYAML, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	if title != "" {
		doc["info"].(map[string]any)["title"] = title
	}
	if prefix != defaultPrefix {
		paths := doc["paths"].(map[string]any)
		moved := make(map[string]any, len(paths))
		for p, item := range paths {
			if rest, ok := strings.CutPrefix(p, defaultPrefix+"/"); ok {
				p = prefix + "/" + rest
			}
			moved[p] = item
		}
		doc["paths"] = moved
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	// tokenUrl and descriptions mention the default prefix too.
	if prefix != defaultPrefix {
		out = bytes.ReplaceAll(out, []byte(defaultPrefix), []byte(prefix))
	}
	return out, nil
}

// Assets holds the Swagger UI files, served under /docs/assets/.
func Assets() fs.FS {
	sub, err := fs.Sub(assets, "swagger-ui")
	if err != nil {
		panic(err) // the embedded directory is fixed at build time
	}
	return sub
}

// Page is the /docs HTML page. It loads only embedded assets.
const Page = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>API docs</title>
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/init.js"></script>
</body>
</html>
`
