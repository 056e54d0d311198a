package endpoint

import (
	"net/http"
)

// servePost answers the OAuth2 POST form. Until refresh tokens are enabled it
// answers a JSON 404: the one answer after which containerd, BuildKit and crane
// fall back to GET (403 or 405 breaks them).
func (h *Handler) servePost(w http.ResponseWriter, r *http.Request, st *State, rec *record) error {
	return &Error{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: "OAuth2 token requests are not enabled; use GET"}
}
