//go:build race

package throttle

// raceEnabled: the race detector makes allocations and loops much slower.
const raceEnabled = true
