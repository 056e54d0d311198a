// Package oidctest is an OpenID Connect issuer for tests, in the manner of
// net/http/httptest: a real HTTP(S) server on loopback that serves a
// discovery document and a JWKS, signs ID tokens with RS256 keys it can
// rotate, and makes the claim sets GitHub Actions, GitLab CI and Kubernetes
// document. The unit tests of package oidc and the end-to-end tests use it.
//
// It must not be imported by the product's code.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Issuer is a running test issuer. Its URL is the "iss" of its tokens.
type Issuer struct {
	URL    string
	server *httptest.Server

	mu        sync.Mutex
	published []jwk.Key // what the JWKS lists
	current   jwk.Key   // signs new tokens
	down      bool      // answer 503 to everything

	// Discovery and JWKS count the requests for each document.
	Discovery, JWKS atomic.Int64
}

// New starts an issuer on 127.0.0.1, over HTTPS when tls is set (its CA is
// CAPEM), with one published signing key.
func New(tls bool) *Issuer {
	i := &Issuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", i.serveDiscovery)
	mux.HandleFunc("/keys", i.serveKeys)
	if tls {
		i.server = httptest.NewTLSServer(mux)
	} else {
		i.server = httptest.NewServer(mux)
	}
	i.URL = i.server.URL
	i.Rotate()
	return i
}

// Close stops the server.
func (i *Issuer) Close() { i.server.Close() }

// CAPEM is the PEM certificate a client must trust for an HTTPS issuer.
func (i *Issuer) CAPEM() []byte {
	if i.server.Certificate() == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: i.server.Certificate().Raw})
}

// Rotate makes a new key, publishes it beside the old ones and signs with
// it from now on, as issuers do: tokens signed before stay verifiable.
func (i *Issuer) Rotate() {
	k := NewKey()
	i.mu.Lock()
	defer i.mu.Unlock()
	i.published = append(i.published, k)
	i.current = k
}

// Retire stops publishing every key but the current one.
func (i *Issuer) Retire() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.published = []jwk.Key{i.current}
}

// SetDown makes the issuer answer 503 (true) or serve again (false).
func (i *Issuer) SetDown(down bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.down = down
}

// Sign signs claims with the current key; "iss" is set to the issuer's URL
// unless claims hold one.
func (i *Issuer) Sign(claims map[string]any) string {
	i.mu.Lock()
	k := i.current
	i.mu.Unlock()
	if _, ok := claims["iss"]; !ok {
		claims["iss"] = i.URL
	}
	return SignWith(k, claims)
}

// NewKey makes an RS256 signing key with a random kid.
func NewKey() jwk.Key {
	raw, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		panic(err)
	}
	var id [8]byte
	rand.Read(id[:])
	k.Set(jwk.KeyIDKey, fmt.Sprintf("%x", id))
	k.Set(jwk.AlgorithmKey, jwa.RS256)
	k.Set(jwk.KeyUsageKey, jwk.ForSignature)
	return k
}

// SignWith signs claims with key, whoever publishes it. The claims are
// written as given, so a test can make any of them wrong; a nil value
// leaves the claim out.
func SignWith(key jwk.Key, claims map[string]any) string {
	present := map[string]any{}
	for name, v := range claims {
		if v != nil {
			present[name] = v
		}
	}
	payload, err := json.Marshal(present)
	if err != nil {
		panic(err)
	}
	h := jws.NewHeaders()
	h.Set(jws.KeyIDKey, key.KeyID())
	h.Set(jws.TypeKey, "JWT")
	b, err := jws.Sign(payload, jws.WithKey(jwa.RS256, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	i.Discovery.Add(1)
	if i.isDown(w) {
		return
	}
	writeJSON(w, map[string]any{
		"issuer":                                i.URL,
		"jwks_uri":                              i.URL + "/keys",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (i *Issuer) serveKeys(w http.ResponseWriter, _ *http.Request) {
	i.JWKS.Add(1)
	if i.isDown(w) {
		return
	}
	i.mu.Lock()
	set := jwk.NewSet()
	for _, k := range i.published {
		pub, err := k.PublicKey()
		if err != nil {
			panic(err)
		}
		set.AddKey(pub)
	}
	i.mu.Unlock()
	writeJSON(w, set)
}

func (i *Issuer) isDown(w http.ResponseWriter) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.down {
		http.Error(w, "down for the test", http.StatusServiceUnavailable)
	}
	return i.down
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// GitHubClaims are the claims of a GitHub Actions job's ID token for a push
// to ref of repository ("owner/name"), as GitHub documents them.
func GitHubClaims(aud, repository, ref string, now time.Time) map[string]any {
	owner, _, _ := strings.Cut(repository, "/")
	return map[string]any{
		"aud": aud, "sub": "repo:" + repository + ":ref:" + ref,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"jti":                   "example-id",
		"ref":                   ref,
		"ref_type":              "branch",
		"sha":                   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4",
		"repository":            repository,
		"repository_owner":      owner,
		"repository_id":         "74",
		"repository_owner_id":   "65",
		"repository_visibility": "private",
		"run_id":                "5813",
		"run_number":            "12",
		"run_attempt":           "1",
		"actor":                 "octocat",
		"actor_id":              "12",
		"workflow":              "build",
		"event_name":            "push",
		"head_ref":              "",
		"base_ref":              "",
		"job_workflow_ref":      repository + "/.github/workflows/build.yml@" + ref,
		"runner_environment":    "github-hosted",
	}
}

// GitLabClaims are the claims of a GitLab CI job's id_tokens entry for a
// pipeline on ref of project ("group/project"), as GitLab documents them.
func GitLabClaims(aud, projectPath, ref string, now time.Time) map[string]any {
	namespace := projectPath[:max(0, strings.LastIndexByte(projectPath, '/'))]
	return map[string]any{
		"aud": aud, "sub": "project_path:" + projectPath + ":ref_type:branch:ref:" + ref,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"jti":                   "example-id",
		"namespace_id":          "72",
		"namespace_path":        namespace,
		"project_id":            "20",
		"project_path":          projectPath,
		"user_id":               "5",
		"user_login":            "jane",
		"user_email":            "jane@example.com",
		"pipeline_id":           "574",
		"pipeline_source":       "push",
		"job_id":                "302",
		"ref":                   ref,
		"ref_type":              "branch",
		"ref_path":              "refs/heads/" + ref,
		"ref_protected":         "true",
		"environment":           "production",
		"environment_protected": "true",
		"runner_id":             1,
		"runner_environment":    "gitlab-hosted",
		"sha":                   "714a629c0b401fdce83e847fc9589983fc6f46bc",
	}
}

// KubernetesClaims are the claims of a projected service-account token of
// pod "app-1" running as serviceAccount in namespace.
func KubernetesClaims(aud, namespace, serviceAccount string, now time.Time) map[string]any {
	return map[string]any{
		"aud": []string{aud}, "sub": "system:serviceaccount:" + namespace + ":" + serviceAccount,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"kubernetes.io": map[string]any{
			"namespace":      namespace,
			"pod":            map[string]any{"name": "app-1", "uid": "4c3c1f4e-1e2b-4f6a-9f3e-1b2c3d4e5f60"},
			"serviceaccount": map[string]any{"name": serviceAccount, "uid": "6a3f1f4e-1e2b-4f6a-9f3e-1b2c3d4e5f61"},
		},
	}
}
