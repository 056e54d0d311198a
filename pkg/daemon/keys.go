package daemon

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/token"
)

// LoadKeySets reads every signing key with its rotation (next key,
// previous certificates): the main key set, and those of the services
// that have a key of their own (nil when none has).
func LoadKeySets(t config.Token) (main *token.KeySet, services map[string]*token.KeySet, err error) {
	if main, err = loadKeySet(t.Main(), t); err != nil {
		return nil, nil, err
	}
	if len(t.ServiceKeys) == 0 {
		return main, nil, nil
	}
	services = make(map[string]*token.KeySet, len(t.ServiceKeys))
	for _, name := range slices.Sorted(maps.Keys(t.ServiceKeys)) {
		set, err := loadKeySet(t.ServiceKeys[name], t)
		if err != nil {
			return nil, nil, fmt.Errorf("service %q: %w", name, err)
		}
		services[name] = set
	}
	return main, services, nil
}

// loadKeySet reads one key, its next key and its previous certificates.
func loadKeySet(files config.KeyFiles, t config.Token) (*token.KeySet, error) {
	cur, err := loadSigner(files, t)
	if err != nil {
		return nil, err
	}
	set := &token.KeySet{Current: cur}
	if next := files.Rotation.Next; next != nil {
		if set.Next, err = loadSigner(*next, t); err != nil {
			return nil, fmt.Errorf("next key: %w", err)
		}
	}
	for _, path := range files.Rotation.Previous {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("previous key: %w", err)
		}
		p, err := token.ParsePublishedKey(data)
		if err != nil {
			return nil, fmt.Errorf("previous key %s: %w", path, err)
		}
		set.Previous = append(set.Previous, p)
	}
	return set, nil
}

// keyFiles lists the files of every key and certificate t names, rotation
// included: a change to any of them reloads.
func keyFiles(t config.Token) []string {
	var out []string
	add := func(f config.KeyFiles) {
		out = append(out, f.Key, f.Certificate)
		if n := f.Rotation.Next; n != nil {
			out = append(out, n.Key, n.Certificate)
		}
		out = append(out, f.Rotation.Previous...)
	}
	add(t.Main())
	for _, name := range slices.Sorted(maps.Keys(t.ServiceKeys)) {
		add(t.ServiceKeys[name])
	}
	return out
}

// loadRefreshMAC derives the refresh tokens' MAC key from refresh.key when
// set, else from the signing key.
func loadRefreshMAC(cfg *config.Config, signer *token.Signer) (*token.MACSigner, error) {
	if cfg.Refresh.Key == "" {
		mac, err := signer.MACSigner()
		if err != nil {
			return nil, fmt.Errorf("%s: refresh tokens: %w", cfg.Token.Key, err)
		}
		return mac, nil
	}
	pemBytes, err := readKey(cfg.Refresh.Key, cfg.Token.AllowReadableKey)
	if err != nil {
		return nil, fmt.Errorf("refresh.key: %w", err)
	}
	key, err := token.ParsePrivateKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("refresh.key %s: %w", cfg.Refresh.Key, err)
	}
	mac, err := token.NewMACSigner(key)
	if err != nil {
		return nil, fmt.Errorf("refresh.key %s: %w", cfg.Refresh.Key, err)
	}
	return mac, nil
}

// checkRotation reports what the key sets say about their rotation: an
// Ed25519 key (distribution 2.8 refuses it), the next key's certificates,
// a next key that is the current one, and previous keys without
// promoted_at.
func (r *Report) checkRotation(cfg *config.Config, st *endpoint.State, now time.Time) {
	check := func(whose string, files config.KeyFiles, set *token.KeySet) {
		if set == nil {
			return
		}
		for _, k := range []struct {
			role string
			s    *token.Signer
		}{{"key", set.Current}, {"next key", set.Next}} {
			if k.s != nil && !token.Registry28Verifies(k.s.PublicKey()) {
				r.add(Warning, "%s%s is %s (Ed25519): distribution 2.8 refuses such tokens, and refuses to start with an Ed25519 "+
					"certificate in its rootcertbundle; use it only for distribution 3.x and zot", whose, k.role, k.s.Algorithm())
			}
		}
		if set.Next != nil {
			r.checkCertificates(whose+"next key: ", cfg.Token.KeyID, set.Next.Certificates(), now)
		}
		if set.Next != nil && set.Next.SameKey(set.Current) {
			r.add(Problem, "%snext key %s is the current key: promoting it changes nothing", whose, files.Rotation.Next.Key)
		}
		if len(files.Rotation.Previous) > 0 && files.Rotation.PromotedAt.IsZero() {
			r.add(Warning, "%sprevious keys without promoted_at: regtoken key retire cannot tell when their last tokens expire", whose)
		}
	}
	check("", cfg.Token.Main(), st.Keys)
	for _, name := range slices.Sorted(maps.Keys(st.ServiceKeys)) {
		check(fmt.Sprintf("service %q: ", name), cfg.Token.ServiceKeys[name], st.ServiceKeys[name])
	}
}
