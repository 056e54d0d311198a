package shared

import (
	"context"
	"strconv"
	"time"

	"github.com/regtoken/regtoken/pkg/limits"
)

// Revocations live in one hash, name-hash -> Unix nanoseconds of the
// latest revocation, beside a version number that every write bumps: a
// replica reads the version twice a second, and the hash only when the
// version moved.
const (
	revokedKey = keyPrefix + "revoked"
	versionKey = keyPrefix + "revoked:version"
)

// epochs is a replica's copy of the revocations.
type epochs struct {
	version string
	at      map[string]int64 // name hash -> Unix nanoseconds
}

// Revoke records that every refresh token of user issued so far, and every
// password check of user that a replica remembers, no longer counts. The
// replicas apply it within limits.StorePollInterval (plus one round trip).
func (s *Store) Revoke(user string, now time.Time) error {
	return s.do(func(ctx context.Context) error {
		p := s.client.TxPipeline()
		p.HSet(ctx, revokedKey, s.hash("revoke", []byte(user)), now.UnixNano())
		p.Incr(ctx, versionKey)
		_, err := p.Exec(ctx)
		return err
	})
}

// RevokedAt is when user was last revoked, as of this replica's latest
// poll; zero for never. It reads memory only.
func (s *Store) RevokedAt(user string) time.Time {
	if s == nil {
		return time.Time{}
	}
	e := s.epochs.Load()
	if len(e.at) == 0 {
		return time.Time{}
	}
	ns, ok := e.at[s.hash("revoke", []byte(user))]
	if !ok {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Run polls the store until ctx ends: the revocation version every
// limits.StorePollInterval, the revocations when it moved. The poll is
// also the health probe: a store that comes back is seen within the
// interval, without a login having to find out.
func (s *Store) Run(ctx context.Context) {
	if s == nil {
		return
	}
	t := time.NewTicker(limits.StorePollInterval)
	defer t.Stop()
	for {
		s.Poll()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll reads the revocations once if their version moved. When the store
// answers for the first time, or again after a failure (it may have
// restarted empty), the scripts are loaded first.
func (s *Store) Poll() {
	wasUp := s.Health().Up
	var version string
	if s.do(func(ctx context.Context) (err error) {
		version, err = s.client.Get(ctx, versionKey).Result()
		return err
	}) != nil {
		return
	}
	if !wasUp {
		s.loadScripts()
	}
	if version == s.epochs.Load().version {
		return
	}
	var all map[string]string
	if s.do(func(ctx context.Context) (err error) {
		all, err = s.client.HGetAll(ctx, revokedKey).Result()
		return err
	}) != nil {
		return
	}
	e := &epochs{version: version, at: make(map[string]int64, len(all))}
	for k, v := range all {
		if ns, err := strconv.ParseInt(v, 10, 64); err == nil {
			e.at[k] = ns
		}
	}
	s.epochs.Store(e)
}

// Prune drops revocations from before then: once every refresh token
// issued before a revocation has expired (and every remembered password
// check has), it changes nothing. The version stays, so replicas keep
// their copies until the next revocation.
func (s *Store) Prune(before time.Time) error {
	var all map[string]string
	if err := s.do(func(ctx context.Context) (err error) {
		all, err = s.client.HGetAll(ctx, revokedKey).Result()
		return err
	}); err != nil {
		return err
	}
	var old []string
	for k, v := range all {
		if ns, err := strconv.ParseInt(v, 10, 64); err == nil && ns < before.UnixNano() {
			old = append(old, k)
		}
	}
	if len(old) == 0 {
		return nil
	}
	return s.do(func(ctx context.Context) error { return s.client.HDel(ctx, revokedKey, old...).Err() })
}
