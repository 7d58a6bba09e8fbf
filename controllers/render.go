package controllers

import (
	"encoding/json"
	"net/http"
)

// problemRender writes a Problem as JSON without overriding the
// application/problem+json content type, as gin's JSON renderer would.
type problemRender struct{ p Problem }

func (r problemRender) Render(w http.ResponseWriter) error {
	return json.NewEncoder(w).Encode(r.p)
}

func (r problemRender) WriteContentType(w http.ResponseWriter) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", problemContentType)
	}
}
