//go:build e2e

package load

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/regtoken/regtoken/pkg/token"
)

// rawRate runs f in workers goroutines for about d and returns calls per
// second. Calls in progress when d ends are finished and counted.
func rawRate(workers int, d time.Duration, f func() error) (float64, error) {
	var n atomic.Int64
	var firstErr atomic.Value
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				if err := f(); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

// signer is regtoken's signer for the stack's key and certificate, built
// the way the daemon builds it.
func (s *stack) signer(t *testing.T) *token.Signer {
	keyPEM, err := os.ReadFile(filepath.Join(s.dir, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(filepath.Join(s.dir, "signing.crt"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := token.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := token.ParseCertificates(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := token.NewSigner(key, chain, "")
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// signingRate is ES256 tokens per second as regtoken signs them (claims
// encoding included), on the given number of cores.
func signingRate(signer *token.Signer, workers int, d time.Duration) (float64, error) {
	access := []token.ResourceActions{{Type: "repository", Name: "some-image", Actions: []string{"pull"}}}
	return rawRate(workers, d, func() error {
		_, err := signer.Sign(token.NewClaims("loadtest", "", service, access, time.Now(), 5*time.Minute, token.DefaultClockSkew))
		return err
	})
}

// bcryptRate is bcrypt comparisons per second at the stack's cost.
func bcryptRate(hash []byte, workers int, d time.Duration) (float64, error) {
	return rawRate(workers, d, func() error {
		return bcrypt.CompareHashAndPassword(hash, []byte(password))
	})
}
