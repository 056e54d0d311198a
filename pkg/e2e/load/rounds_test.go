//go:build e2e

package load

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// roundRows are the rows the transport comparison of issue 15 needs, run in
// turn, round after round, so that a machine whose load drifts during the
// run (other work, a busy neighbour) weighs on all of them alike.
var roundRows = []struct {
	backend   string // "trivial" or "regtoken"
	transport string
}{
	{"trivial", "http+keepalive"},
	{"regtoken", "fastcgi+keep_conn"},
	{"regtoken", "scgi"},
	{"regtoken", "http+keepalive"},
}

// roundsWanted is REGTOKEN_LOAD_ROUNDS: how many rounds to run (0: none).
func roundsWanted() int {
	n, _ := strconv.Atoi(os.Getenv("REGTOKEN_LOAD_ROUNDS"))
	return n
}

// interleavedRounds runs roundRows n times and returns a Markdown section
// with every round's rates and the median ratios.
func (r *run) interleavedRounds(n int) string {
	rates := make([][]float64, len(roundRows))
	for range n {
		for i, row := range roundRows {
			l := load{path: r.s.trivial.path(transportNamed(row.transport)) + query}
			if row.backend == "regtoken" {
				l.path = r.s.rt.path(transportNamed(row.transport)) + query
			}
			out, err := runWrk(r.ctx, r.s.dir, r.port, l, r.set.duration)
			if err != nil || out.failures() > 0 {
				r.t.Errorf("round row %s %s: %v (%d failures)", row.backend, row.transport, err, out.failures())
			}
			rates[i] = append(rates[i], out.rate())
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n### Interleaved rounds (%d × %s per row)\n\n| round |", n, r.set.duration)
	for _, row := range roundRows {
		fmt.Fprintf(&b, " %s %s |", row.backend, row.transport)
	}
	b.WriteString(" fastcgi+keep_conn / trivial http+keepalive | fastcgi+keep_conn / scgi |\n|---|")
	b.WriteString(strings.Repeat("---:|", len(roundRows)+2) + "\n")
	var vsTrivial, vsSCGI []float64
	for k := range n {
		fmt.Fprintf(&b, "| %d |", k+1)
		for i := range roundRows {
			fmt.Fprintf(&b, " %s |", thousands(rates[i][k]))
		}
		vsTrivial = append(vsTrivial, rates[1][k]/rates[0][k])
		vsSCGI = append(vsSCGI, rates[1][k]/rates[2][k])
		fmt.Fprintf(&b, " %s | %s |\n", percent(rates[1][k], rates[0][k]), percent(rates[1][k], rates[2][k]))
	}
	fmt.Fprintf(&b, "\nMedian ratios: anonymous over fastcgi+keep_conn is %.0f%% of the trivial HTTP keep-alive responder, %.0f%% of anonymous over scgi.\n",
		100*median(vsTrivial), 100*median(vsSCGI))
	return b.String()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
