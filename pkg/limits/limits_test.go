package limits

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWithDefaultsFillsOnlyZeros(t *testing.T) {
	got := Limits{Transport: Transport{MaxBodyBytes: 10}, MaxScopes: 3}.WithDefaults()
	want := Limits{
		Transport: Transport{RequestTimeout: DefaultRequestTimeout, IdleTimeout: DefaultIdleTimeout,
			HeadTimeout: DefaultHeadTimeout, MaxHeaderBytes: DefaultMaxHeaderBytes,
			MaxBodyBytes: 10, MaxConnections: DefaultMaxConnections},
		MaxScopes: 3, ShutdownTimeout: DefaultShutdownTimeout,
	}
	if got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
}

func TestValidate(t *testing.T) {
	if err := (Limits{}).Validate(); err != nil {
		t.Errorf("zero limits (all defaults): %v", err)
	}
	err := Limits{
		Transport: Transport{RequestTimeout: -time.Second, MaxHeaderBytes: 2 << 20, MaxBodyBytes: -1},
		MaxScopes: -1,
	}.Validate()
	if !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("Validate = %v, want ErrOutOfRange", err)
	}
	for _, want := range []string{"request_timeout", "max_header_bytes 2097152 is over", "max_body_bytes", "max_scopes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %q, lacks %q", err, want)
		}
	}
}

// A kept-alive connection must not hold a slot as long as a request may
// take, and the head timeout must be able to fire before the request
// timeout does.
func TestTimeoutDefaultsAreOrdered(t *testing.T) {
	if !(DefaultHeadTimeout < DefaultIdleTimeout && DefaultIdleTimeout <= DefaultRequestTimeout/2) {
		t.Errorf("head %s, idle %s, request %s: want head < idle <= request/2",
			DefaultHeadTimeout, DefaultIdleTimeout, DefaultRequestTimeout)
	}
}

func TestValidateTimeouts(t *testing.T) {
	for _, tt := range []struct {
		name string
		l    Transport
		want string // "" for valid
	}{
		{"defaults", Transport{}, ""},
		{"negative idle", Transport{IdleTimeout: -1}, "idle_timeout must not be negative"},
		{"negative head", Transport{HeadTimeout: -1}, "head_timeout must not be negative"},
		{"head equal to the request timeout", Transport{RequestTimeout: time.Second, HeadTimeout: time.Second},
			"head_timeout 1s must be shorter than request_timeout 1s"},
		{"head over the default request timeout", Transport{HeadTimeout: time.Minute},
			"head_timeout 1m0s must be shorter than request_timeout 30s"},
		{"short request timeout, default head", Transport{RequestTimeout: 400 * time.Millisecond},
			"head_timeout 500ms must be shorter than request_timeout 400ms"},
		{"both short", Transport{RequestTimeout: 400 * time.Millisecond, HeadTimeout: 100 * time.Millisecond}, ""},
		{"idle longer than the request timeout", Transport{IdleTimeout: time.Hour}, ""},
	} {
		err := Limits{Transport: tt.l}.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		case tt.want != "" && !errors.Is(err, ErrOutOfRange):
			t.Errorf("%s: %v is not ErrOutOfRange", tt.name, err)
		}
	}
}
