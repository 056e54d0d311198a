package fastcgi

import (
	"runtime"
	"time"
)

// runtimeUse returns the goroutine count and the heap in use after a
// collection, once goroutines that are just ending have had a moment.
func runtimeUse() (goroutines int, heap uint64) {
	time.Sleep(50 * time.Millisecond)
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapInuse
}
