package token

import (
	"encoding/json"
	"testing"
	"time"
)

func TestNewClaims(t *testing.T) {
	now := time.Unix(1700000000, 900_000_000) // fractional seconds must not leak
	access := []ResourceActions{{Type: "repository", Name: "a", Actions: []string{"pull"}}}
	c := NewClaims("iss", "alice", "registry", access, now, 5*time.Minute, DefaultClockSkew)
	want := ClaimSet{
		Issuer: "iss", Subject: "alice", Audience: "registry",
		Expiration: 1700000300, NotBefore: 1699999990, IssuedAt: 1699999990,
		JWTID: c.JWTID, Access: access,
	}
	if c.Issuer != want.Issuer || c.Subject != want.Subject || c.Audience != want.Audience ||
		c.Expiration != want.Expiration || c.NotBefore != want.NotBefore || c.IssuedAt != want.IssuedAt ||
		len(c.Access) != 1 {
		t.Fatalf("NewClaims = %+v, want %+v", *c, want)
	}
	raw, err := base64URLDecode(c.JWTID)
	if err != nil || len(raw) != 16 {
		t.Fatalf("jti %q is not 16 bytes of unpadded base64url (%v)", c.JWTID, err)
	}

	seen := map[string]bool{}
	for range 1000 {
		id := NewClaims("", "", "", nil, now, time.Minute, 0).JWTID
		if seen[id] {
			t.Fatalf("jti %q repeated", id)
		}
		seen[id] = true
	}
}

// TestClockSkewMargin: nbf and iat are both backdated by the margin, and
// exp is not, so a verifier with no leeway (zot checks iat and nbf against
// its own clock) accepts a fresh token while its clock is up to the margin
// behind ours, and one further behind refuses it.
func TestClockSkewMargin(t *testing.T) {
	now := time.Unix(1700000000, 0)
	for _, skew := range []time.Duration{0, 3 * time.Second, DefaultClockSkew, time.Minute} {
		c := NewClaims("i", "", "svc", nil, now, 5*time.Minute, skew)
		if want := now.Add(-skew).Unix(); c.IssuedAt != want || c.NotBefore != want {
			t.Errorf("skew %v: iat %d nbf %d, want both %d", skew, c.IssuedAt, c.NotBefore, want)
		}
		if c.Expiration != now.Add(5*time.Minute).Unix() {
			t.Errorf("skew %v: exp %d moved", skew, c.Expiration)
		}
		// A verifier without leeway, its clock behind ours.
		strict := func(verifierNow int64) bool { return c.IssuedAt <= verifierNow && c.NotBefore <= verifierNow }
		if !strict(now.Add(-skew).Unix()) {
			t.Errorf("skew %v: refused by a verifier %v behind", skew, skew)
		}
		if strict(now.Add(-skew - time.Second).Unix()) {
			t.Errorf("skew %v: accepted by a verifier more than %v behind", skew, skew)
		}
	}
}

func TestClaimSetJSON(t *testing.T) {
	tests := []struct {
		name string
		in   ClaimSet
		want string
	}{
		{
			name: "login: nil access",
			in:   ClaimSet{Issuer: "i", Audience: "svc", Expiration: 3, NotBefore: 1, IssuedAt: 2, JWTID: "j"},
			want: `{"iss":"i","sub":"","aud":"svc","exp":3,"nbf":1,"iat":2,"jti":"j","access":[]}`,
		},
		{
			name: "denied entry: nil actions",
			in: ClaimSet{Issuer: "i", Subject: "bob", Audience: "svc", Access: []ResourceActions{
				{Type: "repository", Name: "src", Actions: nil},
				{Type: "registry", Name: "catalog", Actions: []string{"*"}},
			}},
			want: `{"iss":"i","sub":"bob","aud":"svc","exp":0,"nbf":0,"iat":0,"jti":"",` +
				`"access":[{"type":"repository","name":"src","actions":[]},{"type":"registry","name":"catalog","actions":["*"]}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, enc := range []func() ([]byte, error){
				func() ([]byte, error) { return json.Marshal(tt.in) },
				func() ([]byte, error) { return json.Marshal(&tt.in) },
				func() ([]byte, error) { return json.Marshal(tt.in.wire()) },
			} {
				got, err := enc()
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != tt.want {
					t.Fatalf("got  %s\nwant %s", got, tt.want)
				}
			}
		})
	}

	got, err := json.Marshal(ResourceActions{Type: "repository", Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"repository","name":"x","actions":[]}`; string(got) != want {
		t.Fatalf("ResourceActions: got %s, want %s", got, want)
	}
}
