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
		Transport: Transport{RequestTimeout: DefaultRequestTimeout, MaxHeaderBytes: DefaultMaxHeaderBytes,
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
