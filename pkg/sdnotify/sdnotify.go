// Package sdnotify tells systemd about the service's state (sd_notify(3)):
// READY=1 once the service accepts requests, STOPPING=1 when it begins to shut
// down, and WATCHDOG=1 keep-alives when the unit sets WatchdogSec=.
//
// It is the one package besides the command that reads the environment
// (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID), because that is where systemd
// puts this information. Every call is a no-op without NOTIFY_SOCKET, so the
// service runs unchanged outside systemd. It must not do anything else: no
// logging, no signal handling, no goroutines it does not document.
package sdnotify

import (
	"context"
	"net"
	"os"
	"strconv"
	"time"
)

// The states regtoken reports. systemd accepts several newline-separated
// assignments per datagram; regtoken never needs more than one.
const (
	stateReady    = "READY=1"
	stateStopping = "STOPPING=1"
	stateWatchdog = "WATCHDOG=1"
)

// Ready reports that start-up is complete and requests are being served.
func Ready() error { return Notify(stateReady) }

// Stopping reports that a graceful shutdown has begun.
func Stopping() error { return Notify(stateStopping) }

// Watchdog resets the unit's watchdog timer.
func Watchdog() error { return Notify(stateWatchdog) }

// Notify sends state to the socket named by NOTIFY_SOCKET. A name starting
// with '@' is an abstract socket; Go's net package maps it for us. Without
// NOTIFY_SOCKET, Notify does nothing and returns nil.
func Notify(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}

// WatchdogInterval returns how often to call Watchdog: half of WATCHDOG_USEC,
// as sd_watchdog_enabled(3) recommends. ok is false when the watchdog is off,
// when WATCHDOG_USEC is not a positive number, or when WATCHDOG_PID names a
// different process (the variable leaked from a parent).
func WatchdogInterval() (interval time.Duration, ok bool) {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0, false
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, false
	}
	return time.Duration(usec) * time.Microsecond / 2, true
}

// KeepAlive calls Watchdog every WatchdogInterval until ctx is done. It
// returns at once when the watchdog is off. Run it in its own goroutine, and
// cancel ctx when the service can no longer answer, so systemd notices.
func KeepAlive(ctx context.Context) {
	interval, ok := WatchdogInterval()
	if !ok {
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			_ = Watchdog() // a lost ping is retried on the next tick
		}
	}
}
