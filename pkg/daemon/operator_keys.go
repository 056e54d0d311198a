package daemon

import (
	"net/http"
	"slices"

	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/token"
)

// addKeyHandlers serves the published keys on the operator listener:
// /bundle.pem (every certificate, for rootcertbundle or zot's cert) and
// /jwks.json (every public key, for distribution 3.x's jwks), each for
// ?service=NAME's key set, the main one without it. Both follow reloads,
// so a sidecar that fetches them keeps a registry's files current.
func addKeyHandlers(mux *http.ServeMux, h *endpoint.Handler) {
	serve := func(contentType string, render func(*token.KeySet) ([]byte, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			st := h.State()
			service := r.URL.Query().Get("service")
			if service != "" && !slices.Contains(st.Services, service) {
				http.Error(w, "unknown service", http.StatusNotFound)
				return
			}
			body, err := render(st.KeysFor(service))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("Cache-Control", "no-cache")
			w.Write(body)
		}
	}
	mux.HandleFunc("GET /bundle.pem", serve("application/x-pem-file", func(k *token.KeySet) ([]byte, error) { return k.Bundle(), nil }))
	mux.HandleFunc("GET /jwks.json", serve("application/jwk-set+json", (*token.KeySet).JWKS))
}
