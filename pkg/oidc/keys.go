package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Timing of key fetches.
const (
	// unknownKeyInterval rate-limits the fetches a token with an unknown
	// kid triggers: a forger sending made-up kids costs the issuer at most
	// one request per interval.
	unknownKeyInterval = 10 * time.Second
	// retryFirst is the first wait after a failed fetch; it doubles up to
	// the issuer's Refresh.
	retryFirst = 15 * time.Second
	// fetchTimeout bounds one discovery or JWKS request.
	fetchTimeout = 10 * time.Second
	// waitForKeys bounds how long a request waits for a fetch it needs
	// (no keys yet, or an unknown kid).
	waitForKeys = 10 * time.Second
	// maxDocumentBytes bounds a discovery document or key set.
	maxDocumentBytes = 1 << 20
)

// The keys were fetched in the background and are read by every request, so
// they sit behind an atomic pointer: a request never waits for the network
// unless it has to (no keys yet, or a key it has not seen), and an issuer
// that is down leaves the last good keys in place. jwx's jwk.Cache would
// fetch and parse as well, but it holds a lock over each fetch that every
// read waits on, so one hung issuer would stall every login during its
// scheduled refresh.

// keySource keeps one issuer's signing keys.
type keySource struct {
	id      string // what makes two sources the same; see sourceID
	name    string
	issuer  string
	jwksURL string // configured; "" means discovery
	refresh time.Duration
	client  *http.Client

	keys atomic.Pointer[jwk.Set]
	// attempt is closed and replaced after every fetch attempt, so a
	// request can wait for the next one.
	mu          sync.Mutex
	attempt     chan struct{}
	finished    int // attempts finished
	lastAttempt time.Time
	kick        chan struct{}
	stop        context.CancelFunc

	Stats KeyStats
}

// KeyStats count an issuer's key fetches, for metrics.
type KeyStats struct {
	Fetches     atomic.Uint64
	Failures    atomic.Uint64
	LastSuccess atomic.Int64 // unix seconds; 0: never
	lastError   atomic.Pointer[string]
}

// LastError is the latest failed fetch's error, "" after a success.
func (s *KeyStats) LastError() string {
	if e := s.lastError.Load(); e != nil {
		return *e
	}
	return ""
}

// sourceID says which configuration fields decide the keys: two loads of
// the same issuer with the same values share one source, and its keys.
func sourceID(i *Issuer) string {
	h := sha256.New()
	for _, part := range []string{i.Name, i.URL, i.JWKSURL, string(i.JWKS), string(i.CA), i.Refresh.String()} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return string(h.Sum(nil))
}

// newKeySource starts fetching i's keys, or parses its key file. A key
// file that does not parse is an error; an issuer that cannot be reached
// now is not (its keys arrive when it answers).
func newKeySource(ctx context.Context, i *Issuer) (*keySource, error) {
	s := &keySource{id: sourceID(i), name: i.Name, issuer: i.URL, jwksURL: i.JWKSURL, refresh: i.Refresh,
		attempt: make(chan struct{}), kick: make(chan struct{}, 1)}
	if i.JWKSFile != "" {
		set, err := parseKeySet(i.JWKS)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", i.JWKSFile, err)
		}
		s.keys.Store(&set)
		s.Stats.LastSuccess.Store(time.Now().Unix())
		close(s.attempt)
		return s, nil
	}
	client, err := httpClient(i.CA)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", i.CAFile, err)
	}
	s.client = client
	ctx, s.stop = context.WithCancel(ctx)
	go s.run(ctx)
	return s, nil
}

func httpClient(caPEM []byte) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("no PEM certificate in the CA file")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Timeout: fetchTimeout, Transport: tr}, nil
}

// close stops the background fetches.
func (s *keySource) close() {
	if s.stop != nil {
		s.stop()
	}
}

// run fetches at start, then every refresh interval, sooner when kicked,
// and retries a failure with a doubling wait.
func (s *keySource) run(ctx context.Context) {
	retry := retryFirst
	for {
		next := s.refresh
		if err := s.fetch(ctx); err != nil {
			next, retry = min(retry, s.refresh), min(2*retry, s.refresh)
		} else {
			retry = retryFirst
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-s.kick:
			t.Stop()
		}
	}
}

// fetch gets the key set once and wakes whoever waits for the attempt.
func (s *keySource) fetch(ctx context.Context) error {
	s.mu.Lock()
	s.lastAttempt = time.Now()
	s.mu.Unlock()
	set, err := s.download(ctx)
	s.Stats.Fetches.Add(1)
	if err != nil {
		s.Stats.Failures.Add(1)
		msg := err.Error()
		s.Stats.lastError.Store(&msg)
	} else {
		s.keys.Store(&set)
		s.Stats.LastSuccess.Store(time.Now().Unix())
		s.Stats.lastError.Store(nil)
	}
	s.mu.Lock()
	close(s.attempt)
	s.attempt = make(chan struct{})
	s.finished++
	s.mu.Unlock()
	return err
}

func (s *keySource) download(ctx context.Context) (jwk.Set, error) {
	jwksURL := s.jwksURL
	if jwksURL == "" {
		var err error
		if jwksURL, err = s.discover(ctx); err != nil {
			return nil, err
		}
	}
	body, err := s.get(ctx, jwksURL)
	if err != nil {
		return nil, err
	}
	return parseKeySet(body)
}

// discover reads the issuer's discovery document for its jwks_uri. The
// document must name the issuer exactly as configured (OpenID Connect
// Discovery 1.0, 4.3), or its keys could be another issuer's.
func (s *keySource) discover(ctx context.Context) (string, error) {
	body, err := s.get(ctx, strings.TrimSuffix(s.issuer, "/")+"/.well-known/openid-configuration")
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery document of %s: %w", s.issuer, err)
	}
	if doc.Issuer != s.issuer {
		return "", fmt.Errorf("discovery document of %s names issuer %q", s.issuer, doc.Issuer)
	}
	if err := checkURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("discovery document of %s: jwks_uri: %w", s.issuer, err)
	}
	return doc.JWKSURI, nil
}

func (s *keySource) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err == nil && len(body) > maxDocumentBytes {
		err = fmt.Errorf("GET %s: more than %d bytes", url, maxDocumentBytes)
	}
	return body, err
}

// parseKeySet parses a JWKS and keeps the keys meant for signatures.
func parseKeySet(b []byte) (jwk.Set, error) {
	set, err := jwk.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("not a JWK set: %w", err)
	}
	for i := set.Len() - 1; i >= 0; i-- {
		k, _ := set.Key(i)
		if k.KeyUsage() != "" && k.KeyUsage() != string(jwk.ForSignature) {
			set.RemoveKey(k)
		}
	}
	if set.Len() == 0 {
		return nil, errors.New("the JWK set holds no signing key")
	}
	return set, nil
}

// current returns the keys, waiting for the first fetch if it has not
// finished yet. After a failed one the request is refused at once: the next
// attempt may be minutes away.
func (s *keySource) current(ctx context.Context) (jwk.Set, error) {
	if set := s.keys.Load(); set != nil {
		return *set, nil
	}
	s.mu.Lock()
	attempt, tried := s.attempt, s.finished > 0
	s.mu.Unlock()
	if !tried { // the first fetch is under way: worth waiting for
		s.await(ctx, attempt)
	}
	if set := s.keys.Load(); set != nil {
		return *set, nil
	}
	return nil, s.unavailable()
}

// fresher asks for a fetch because a token names a key not in the set, and
// waits for it, unless one ran less than unknownKeyInterval ago. It returns
// the keys after that fetch, or the ones there were.
func (s *keySource) fresher(ctx context.Context) jwk.Set {
	if s.client == nil { // a key file: nothing to fetch
		return *s.keys.Load()
	}
	s.mu.Lock()
	attempt, recent := s.attempt, time.Since(s.lastAttempt) < unknownKeyInterval
	s.mu.Unlock()
	if !recent {
		select {
		case s.kick <- struct{}{}:
		default:
		}
		s.await(ctx, attempt)
	}
	if set := s.keys.Load(); set != nil {
		return *set
	}
	return nil
}

func (s *keySource) await(ctx context.Context, attempt <-chan struct{}) {
	t := time.NewTimer(waitForKeys)
	defer t.Stop()
	select {
	case <-attempt:
	case <-t.C:
	case <-ctx.Done():
	}
}

// unavailable is the refusal while no keys are known. Why the fetch failed
// is for the operator (metrics), not for whoever presented a token.
func (s *keySource) unavailable() error {
	return &Error{Kind: Unavailable, Message: "the signing keys of issuer " + s.name + " could not be fetched; retry shortly"}
}

// Keys owns the issuers' key sources for the life of the process, so that a
// reload keeps the keys already fetched for an issuer whose settings did
// not change. It is safe for concurrent use.
type Keys struct {
	ctx     context.Context
	mu      sync.Mutex
	sources map[string]*keySource // by sourceID
}

// NewKeys returns a Keys whose background fetches end with ctx.
func NewKeys(ctx context.Context) *Keys {
	return &Keys{ctx: ctx, sources: map[string]*keySource{}}
}

// Verifier returns a Verifier for issuers, which Validate accepted and
// whose key and CA files the caller read into JWKS and CA. file names the
// configuration in rule references; now reads the clock (nil: time.Now).
// Nothing starts or changes when an error is returned.
func (k *Keys) Verifier(issuers []Issuer, file string, now func() time.Time) (*Verifier, error) {
	if now == nil {
		now = time.Now
	}
	v := &Verifier{file: file, issuers: map[string]*trusted{}, now: now}
	k.mu.Lock()
	defer k.mu.Unlock()
	var started []*keySource
	for _, i := range issuers {
		i = i.WithDefaults()
		if _, dup := v.issuers[i.URL]; dup {
			closeAll(started)
			return nil, fmt.Errorf("%w: issuer %s is configured twice", ErrInvalid, i.URL)
		}
		src := k.sources[sourceID(&i)]
		if src == nil {
			var err error
			if src, err = newKeySource(k.ctx, &i); err != nil {
				closeAll(started)
				return nil, err
			}
			started = append(started, src)
		}
		v.issuers[i.URL] = &trusted{Issuer: i, keys: src}
		v.names = append(v.names, i.Name)
	}
	for _, src := range started {
		k.sources[src.id] = src
	}
	return v, nil
}

// Keep stops the key sources v does not use: call it once v serves, so
// that an issuer removed from the configuration is no longer fetched.
func (k *Keys) Keep(v *Verifier) {
	used := map[string]bool{}
	if v != nil {
		for _, t := range v.issuers {
			used[t.keys.id] = true
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for id, src := range k.sources {
		if !used[id] {
			src.close()
			delete(k.sources, id)
		}
	}
}

func closeAll(sources []*keySource) {
	for _, s := range sources {
		s.close()
	}
}

// CheckFiles checks, for regtoken check, what can be checked of i's keys
// without the network: that its key file, if any, is a JWK set with a
// signing key, and that its CA file, if any, holds a certificate. It
// returns the number of keys in the file (0 without one).
func (i Issuer) CheckFiles() (int, error) {
	if len(i.CA) > 0 {
		if _, err := httpClient(i.CA); err != nil {
			return 0, fmt.Errorf("%s: %w", i.CAFile, err)
		}
	}
	if i.JWKSFile == "" {
		return 0, nil
	}
	set, err := parseKeySet(i.JWKS)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", i.JWKSFile, err)
	}
	return set.Len(), nil
}
