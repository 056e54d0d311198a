//go:build e2e

package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat; 100
// on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// cpuTime is the user plus system CPU time pid has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields we want follow its ')'.
	i := strings.LastIndexByte(string(b), ')')
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64) // field 14 of stat(5)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %v %v", pid, err1, err2)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// statusKB returns a "kB" line of /proc/PID/status, such as VmRSS or VmHWM,
// in bytes.
func statusKB(pid int, key string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != key {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		return kb << 10, err
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", key, pid)
}

// childrenRSS sums the RSS of pid's children: the bcrypt helper process,
// when regtoken runs one.
func childrenRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	var sum int64
	for _, child := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(child)
		if rss, err := statusKB(n, "VmRSS"); err == nil {
			sum += rss
		}
	}
	return sum
}

// machineCPU reads the first line of /proc/stat: total and idle (with
// iowait) jiffies of all cores.
func machineCPU() (total, idle int64) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	fields := strings.Fields(line)
	for i, v := range fields[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 7 { // guest time is already part of user time
			break
		}
		total += n
		if i == 3 || i == 4 {
			idle += n
		}
	}
	return total, idle
}

// usage is what a process and the machine did during one row.
type usage struct {
	cpu       time.Duration // regtoken's CPU time
	maxRSS    int64         // highest RSS sampled
	helperRSS int64         // highest RSS of its children (a bcrypt helper)
	idle      float64       // fraction of the machine's CPU left idle
	metrics   map[string]float64
}

// watcher samples a regtoken instance while a row runs, and the machine.
type watcher struct {
	pid      int // 0: no instance, only the machine
	self     bool
	operator string
	cpu0     time.Duration
	total0   int64
	idle0    int64
	metrics0 map[string]float64

	stop      context.CancelFunc
	wg        sync.WaitGroup
	maxRSS    int64
	helperRSS int64
}

func watch(in *instance) *watcher {
	w := &watcher{stop: func() {}}
	w.total0, w.idle0 = machineCPU()
	if in == nil || in.proc == nil {
		return w
	}
	w.pid, w.operator = in.proc.Cmd.Process.Pid, in.operator
	w.cpu0, _ = cpuTime(w.pid)
	w.metrics0 = scrapeMetrics(w.operator)
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, err := statusKB(w.pid, "VmRSS"); err == nil {
				w.maxRSS = max(w.maxRSS, rss)
			}
			w.helperRSS = max(w.helperRSS, childrenRSS(w.pid))
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// watchSelf measures the CPU time of this process, where the trivial
// responders run (the test's own goroutines are idle meanwhile).
func watchSelf() *watcher {
	w := &watcher{stop: func() {}, pid: os.Getpid(), self: true}
	w.total0, w.idle0 = machineCPU()
	w.cpu0, _ = cpuTime(w.pid)
	return w
}

func (w *watcher) done() usage {
	w.stop()
	w.wg.Wait()
	total, idle := machineCPU()
	u := usage{maxRSS: w.maxRSS, helperRSS: w.helperRSS, metrics: map[string]float64{}}
	if total > w.total0 {
		u.idle = float64(idle-w.idle0) / float64(total-w.total0)
	}
	if w.pid == 0 {
		return u
	}
	cpu, _ := cpuTime(w.pid)
	u.cpu = cpu - w.cpu0
	if w.self {
		return u
	}
	for k, v := range scrapeMetrics(w.operator) {
		u.metrics[k] = v - w.metrics0[k]
	}
	return u
}

// waitQuiet waits until pid uses less than a tenth of a core, so that a
// row does not measure the backlog of the one before (queued bcrypt checks
// keep running after wrk has gone).
func waitQuiet(pid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	const window = 250 * time.Millisecond
	for time.Now().Before(deadline) {
		before, err := cpuTime(pid)
		if err != nil {
			return
		}
		time.Sleep(window)
		after, _ := cpuTime(pid)
		if after-before < window/10 {
			return
		}
	}
}

// scrapeMetrics reads regtoken's counters from the operator socket: name
// with labels -> value. Histograms are skipped.
func scrapeMetrics(sock string) map[string]float64 {
	out := map[string]float64{}
	resp, err := harness.UnixHTTPClient(sock).Get("http://operator/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "regtoken_") || strings.Contains(line, "_bucket") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
