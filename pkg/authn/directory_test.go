package authn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/throttle"
)

// testDirectory is a PasswordSource held in memory: users with a password
// and groups, a switch that makes it unreachable, and a count of the checks
// that reached it.
type testDirectory struct {
	mu     sync.Mutex
	users  map[string]testDirectoryUser
	down   bool
	checks int
}

type testDirectoryUser struct {
	password string
	groups   []string
}

var errTestDirectoryDown = errors.New("connection refused")

func (d *testDirectory) CheckPassword(_ context.Context, user, password string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.checks++
	u, ok := d.users[user]
	switch {
	case d.down:
		return nil, errTestDirectoryDown
	case !ok:
		return nil, fmt.Errorf("%q: %w", user, ErrUnknownUser)
	case u.password != password:
		return nil, ErrWrongPassword
	}
	return slices.Clone(u.groups), nil
}

func (d *testDirectory) set(down bool) {
	d.mu.Lock()
	d.down = down
	d.mu.Unlock()
}

func (d *testDirectory) reached() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.checks
}

// directorySource is testSource with a directory holding carol (in dev and
// ops), dave (in no group) and foo, who has a password in the files too.
func directorySource(t *testing.T, first bool) (*Source, *testDirectory) {
	d := &testDirectory{users: map[string]testDirectoryUser{
		"carol": {"carol-pw", []string{"dev", "ops"}},
		"dave":  {"dave-pw", nil},
		"foo":   {"foo-in-directory", []string{"dev"}},
	}}
	src := testSource(t)
	src.Directory = &Directory{Source: d, First: first, Tag: "test"}
	return src, d
}

func TestDirectoryLogin(t *testing.T) {
	a, _ := newTestAuthenticator(nil)
	src, d := directorySource(t, false)
	id, err := a.Authenticate(context.Background(), src, password("carol", "carol-pw"))
	if err != nil {
		t.Fatal(err)
	}
	if !id.GroupsFromSource || !slices.Equal(id.Groups, []string{"dev", "ops"}) {
		t.Fatalf("identity %+v: want the directory's groups dev, ops", id)
	}
	if s := id.Subject(); !slices.Equal(s.Groups, []string{"dev", "ops"}) {
		t.Errorf("the rules see groups %v", s.Groups)
	}
	r, err := a.RefreshFor(src, &id, "registry")
	if err != nil || r.Token != "" {
		t.Errorf("a directory login got refresh token %+v (%v); it has no hash to revoke it by", r, err)
	}
	if d.reached() != 1 {
		t.Errorf("the directory was asked %d times, want 1", d.reached())
	}
}

// A remembered login needs nothing from the directory: it keeps working,
// groups and all, while the directory is down; a new one gets Unavailable.
func TestDirectoryDownServesRememberedLogins(t *testing.T) {
	a, _ := newTestAuthenticator(nil)
	src, d := directorySource(t, false)
	if _, err := a.Authenticate(context.Background(), src, password("carol", "carol-pw")); err != nil {
		t.Fatal(err)
	}
	d.set(true)
	id, err := a.Authenticate(context.Background(), src, password("carol", "carol-pw"))
	if err != nil {
		t.Fatalf("remembered login with the directory down: %v", err)
	}
	if !slices.Equal(id.Groups, []string{"dev", "ops"}) {
		t.Errorf("remembered login has groups %v", id.Groups)
	}
	if d.reached() != 1 {
		t.Errorf("a remembered login reached the directory (%d checks)", d.reached())
	}
	_, err = a.Authenticate(context.Background(), src, password("dave", "dave-pw"))
	if err == nil || wantRefusal(t, err, Unavailable).Wait <= 0 {
		t.Fatalf("dave with the directory down: %v, want Unavailable with a wait", err)
	}
	if a.Verifier().Stats.CacheHits.Load() != 1 {
		t.Errorf("cache hits %d, want 1", a.Verifier().Stats.CacheHits.Load())
	}
}

// Wrong passwords and unknown users are refused alike, count once with the
// throttle, and a repeat is answered from memory.
func TestDirectoryRefusals(t *testing.T) {
	l := throttle.New(throttle.Policy{PairThreshold: 3, AddressThreshold: 100, Tarpit: time.Millisecond})
	a, _ := newTestAuthenticator(l)
	src, d := directorySource(t, false)
	for _, c := range []Credentials{password("carol", "wrong"), password("mallory", "x"), password("carol", "")} {
		for range 2 {
			_, err := a.Authenticate(context.Background(), src, c)
			if e := wantRefusal(t, err, WrongCredentials); e.Message != errWrongPassword.Message {
				t.Errorf("%s: message %q", c.User, e.Message)
			}
		}
	}
	if got := d.reached(); got != 3 {
		t.Errorf("the directory was asked %d times for 3 distinct refused passwords sent twice each", got)
	}
	if got := l.Stats.Failures.Load(); got != 3 {
		t.Errorf("throttle counted %d failures, want 3 (repeats are no new guesses)", got)
	}
	if got := a.Verifier().Stats.Repeats.Load(); got != 3 {
		t.Errorf("repeats %d, want 3", got)
	}
}

// Without First, a name with a password in the files is the files' alone;
// names without one (no entry, or an entry of rules only) are the
// directory's.
func TestDirectoryFilesFirst(t *testing.T) {
	a, _ := newTestAuthenticator(nil)
	src, d := directorySource(t, false)
	src.Users = parseUsers(t, fmt.Sprintf(`{"foo": {"pass_hash": %q}, "carol": {"repositories": {"carol/*": ["push"]}}}`, hash(t, "foo")))
	id, err := a.Authenticate(context.Background(), src, password("foo", "foo"))
	if err != nil || id.GroupsFromSource {
		t.Fatalf("foo by the files' password: %+v %v", id, err)
	}
	_, err = a.Authenticate(context.Background(), src, password("foo", "foo-in-directory"))
	wantRefusal(t, err, WrongCredentials)
	if d.reached() != 0 {
		t.Errorf("the directory was asked about foo, whose password the files hold")
	}
	id, err = a.Authenticate(context.Background(), src, password("carol", "carol-pw"))
	if err != nil || !id.GroupsFromSource {
		t.Fatalf("carol, whose users.json entry has rules only: %+v %v", id, err)
	}
}

// With First, the directory decides the names it knows, and the files'
// password counts for the others, which the directory is asked about once
// per password, not at every login.
func TestDirectoryFirst(t *testing.T) {
	a, _ := newTestAuthenticator(nil)
	src, d := directorySource(t, true)
	_, err := a.Authenticate(context.Background(), src, password("foo", "foo"))
	wantRefusal(t, err, WrongCredentials)
	id, err := a.Authenticate(context.Background(), src, password("foo", "foo-in-directory"))
	if err != nil || !id.GroupsFromSource {
		t.Fatalf("foo by the directory's password: %+v %v", id, err)
	}
	for range 2 {
		id, err = a.Authenticate(context.Background(), src, password("bar", "bar"))
		if err != nil || id.GroupsFromSource {
			t.Fatalf("bar, whom only the files know: %+v %v", id, err)
		}
	}
	if got := d.reached(); got != 3 {
		t.Errorf("the directory was asked %d times, want 3 (foo twice, bar once)", got)
	}
	d.set(true)
	if _, err := a.Authenticate(context.Background(), src, password("bar", "bar")); err != nil {
		t.Errorf("bar's remembered login with the directory down: %v", err)
	}
}

// The memory keys carry the directory's tag and lifetime: another
// configuration, or an expired answer, asks the directory again.
func TestDirectoryMemoryTagAndLifetime(t *testing.T) {
	a, _ := newTestAuthenticator(nil)
	src, d := directorySource(t, false)
	login := func() {
		t.Helper()
		if _, err := a.Authenticate(context.Background(), src, password("carol", "carol-pw")); err != nil {
			t.Fatal(err)
		}
	}
	login()
	login()
	src.Directory.Tag = "another"
	login()
	if d.reached() != 2 {
		t.Fatalf("the directory was asked %d times, want 2 (a new tag forgets)", d.reached())
	}
	src.Directory.CacheLifetime = time.Millisecond
	src.Directory.Tag = "short"
	login()
	time.Sleep(5 * time.Millisecond)
	login()
	if d.reached() != 4 {
		t.Errorf("the directory was asked %d times, want 4 (an expired answer is asked again)", d.reached())
	}
}

// A context that ends while the directory is asked is the caller's own
// error, not a directory outage.
func TestDirectoryCancelled(t *testing.T) {
	a, _ := newTestAuthenticator(nil)
	src, d := directorySource(t, false)
	d.set(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := a.Authenticate(ctx, src, password("carol", "carol-pw"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
