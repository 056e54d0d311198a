package endpoint

import (
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/token"
)

// A token lives as long as the longest lifetime of the actions it grants:
// what the rules granted decides, not what was asked for.
func TestLifetimesByAction(t *testing.T) {
	st := testState(t)
	st.Lifetimes = token.Lifetimes{Default: 5 * time.Minute, Push: 30 * time.Minute}
	h := New(st, Options{Verifier: authn.New(authn.Options{})})
	tests := []struct {
		name, user, scope string
		want              time.Duration
	}{
		{"login", "bar", "", 5 * time.Minute},
		{"pull", "bar", "repository:some-image:pull", 5 * time.Minute},
		{"push granted", "bar", "repository:some-image:pull,push", 30 * time.Minute},
		{"push asked, only pull granted", "foo", "repository:some-image:pull,push", 5 * time.Minute},
		{"catalog", "bar", "registry:catalog:*", 5 * time.Minute},
	}
	for _, tt := range tests {
		url := tokenURL()
		if tt.scope != "" {
			url = tokenURL(tt.scope)
		}
		res := do(t, h, "GET", url, tt.user, tt.user)
		if res.status != 200 {
			t.Fatalf("%s: status %d %s", tt.name, res.status, res.raw)
		}
		c := claims(t, res.body["token"].(string))
		// iat is backdated by the clock skew; exp counts from now.
		if got := time.Duration(c.Expiration-c.IssuedAt)*time.Second - st.ClockSkew; got != tt.want {
			t.Errorf("%s: exp - iat - skew = %s, want %s", tt.name, got, tt.want)
		}
		if got := time.Duration(res.body["expires_in"].(float64)) * time.Second; got > tt.want || got < tt.want-time.Second {
			t.Errorf("%s: expires_in %s, want %s", tt.name, got, tt.want)
		}
	}
}
