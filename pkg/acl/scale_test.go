package acl

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// bigUsersJSON is a users.json of n users as an operator's tooling writes
// it, indented, each with a bcrypt hash, a group and two rules: about 157
// bytes a user, so 300 000 users make a 47 MB file.
func bigUsersJSON(n int) []byte {
	var b bytes.Buffer
	b.WriteString("{\n")
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `  "user-%06d": {
    "pass_hash": "$2b$12$U3Q7N86k1wyKne5htdiK/un14evu0lj6vOOqCrZuZTnRr5YFKYvF.",
    "repositories": {"team-%d/*": ["pull"], "${user}/**": ["*"]}
  }`, i, i%100)
	}
	b.WriteString("\n}\n")
	return b.Bytes()
}

// loadTimes is the least CPU time of five Parse runs of each of a and b,
// run in turns and each after a garbage collection, so that whatever else
// the machine does disturbs both alike.
func loadTimes(t testing.TB, a, b []byte) (time.Duration, time.Duration) {
	best := [2]time.Duration{1 << 62, 1 << 62}
	for range 5 {
		for i, data := range [][]byte{a, b} {
			runtime.GC()
			start := cpuTime()
			if _, err := Parse(data, nil, nil, nil, Files{}); err != nil {
				t.Fatal(err)
			}
			best[i] = min(best[i], cpuTime()-start)
		}
	}
	return best[0], best[1]
}

// Loading is linear in the file's size: twice the users take about twice
// as long, and never 4x, which is what loading quadratic in the size
// approaches (it was, when every key's line was counted from the start of
// the file).
func TestLoadTimeIsLinear(t *testing.T) {
	small, large := loadTimes(t, bigUsersJSON(10_000), bigUsersJSON(20_000))
	t.Logf("10 000 users: %s, 20 000 users: %s (ratio %.1f)", small, large, float64(large)/float64(small))
	if large > 4*small {
		t.Errorf("20 000 users took %s, more than 4x the %s of 10 000: loading is not linear", large, small)
	}
}

// BenchmarkLoadUsers loads users.json files of 10k, 100k and 300k users
// and reports, besides time and allocation, the CPU time (all threads, the
// garbage collector's included), the file's size and the heap the loaded
// rules keep.
func BenchmarkLoadUsers(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 300_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			data := bigUsersJSON(n)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var r *Rules
			cpu := cpuTime()
			for b.Loop() {
				var err error
				if r, err = Parse(data, nil, nil, nil, Files{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(len(data))/(1<<20), "file-MB")
			b.ReportMetric(float64(retainedBy(func() any { r, _ := Parse(data, nil, nil, nil, Files{}); return r }))/(1<<20), "kept-MB")
			runtime.KeepAlive(r)
		})
	}
}

// retainedBy is how much the heap grows by keeping what load returns.
func retainedBy(load func() any) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	kept := load()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(kept)
	if after.HeapAlloc < before.HeapAlloc {
		return 0
	}
	return after.HeapAlloc - before.HeapAlloc
}
