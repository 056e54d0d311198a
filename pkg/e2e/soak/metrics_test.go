//go:build e2e

package soak

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// sample is what regtoken reports about its own resources.
type sample struct {
	at         time.Duration // since the load started
	rss        float64       // bytes
	fds        float64
	goroutines float64
}

func (s sample) String() string {
	return fmt.Sprintf("t=%-6s rss=%5.1f MB fds=%3.0f goroutines=%3.0f",
		s.at.Round(time.Second), s.rss/(1<<20), s.fds, s.goroutines)
}

// operator reads regtoken's /metrics over the operator unix socket.
type operator struct {
	client *http.Client
}

// newOperator reads socket with a connection per sample: an idle kept-alive
// connection would itself hold a goroutine and an fd in regtoken between
// samples.
func newOperator(socket string) *operator {
	return &operator{client: harness.UnixHTTPClient(socket)}
}

// sample scrapes /metrics once.
func (o *operator) sample(at time.Duration) (sample, error) {
	resp, err := o.client.Get("http://operator/metrics")
	if err != nil {
		return sample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return sample{}, fmt.Errorf("/metrics: status %d", resp.StatusCode)
	}
	want := map[string]*float64{}
	s := sample{at: at}
	want["process_resident_memory_bytes"] = &s.rss
	want["process_open_fds"] = &s.fds
	want["go_goroutines"] = &s.goroutines
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if p := want[name]; ok && p != nil {
			if *p, err = strconv.ParseFloat(value, 64); err != nil {
				return sample{}, fmt.Errorf("/metrics: %s %q: %v", name, value, err)
			}
			delete(want, name)
		}
	}
	if err := sc.Err(); err != nil {
		return sample{}, err
	}
	if len(want) > 0 {
		return sample{}, fmt.Errorf("/metrics lacks %v", keys(want))
	}
	return s, nil
}

func keys(m map[string]*float64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
