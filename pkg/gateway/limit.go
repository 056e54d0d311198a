package gateway

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Phase is what a connection from [Config.LimitListener] is doing, as far as
// a full listener cares: it decides which connection is closed to make room.
type Phase int32

const (
	// PhaseReading: the connection owes a request head (on SCGI and uwsgi
	// with the body's first bufferful, on FastCGI the whole request). A new
	// connection starts here. Once the listener is full, one that has been
	// reading for longer than Limits.HeadTimeout is cut: nginx writes a
	// request in one go.
	PhaseReading Phase = iota
	// PhaseBusy: its request is being served. Never cut.
	PhaseBusy
	// PhaseIdle: kept alive between requests. Closed first when the listener
	// is full, the longest idle first (nginx reuses the most recent one).
	PhaseIdle
)

// SetPhase records what c is doing, if c came from a [Config.LimitListener];
// on any other connection it does nothing.
func SetPhase(c net.Conn, p Phase) {
	if lc, ok := c.(*limitConn); ok {
		lc.setPhase(p)
	}
}

// fullLogInterval spaces the log lines about a full listener: one line says
// it happens, the counters say how often.
const fullLogInterval = time.Minute

// LimitListener wraps l so that at most Limits.MaxConnections accepted
// connections are served at once; more wait in the kernel's listen queue,
// and one in Accept. When a connection arrives at a full listener, Accept
// makes room for it: it closes the longest-idle kept-alive connection or
// else the connection that has spent longest, and more than
// Limits.HeadTimeout, reading a request (see [Phase]), and otherwise waits
// for a connection to close. Waits and closures are
// counted in Stats (ConnsWaited, EvictedIdle, EvictedSlow) and logged at most
// once a minute. Closing the listener ends a waiting Accept with
// net.ErrClosed. Close closes l once and returns the same result every time,
// so a server and its Shutdown may both close it without the second call
// turning a clean stop into an error.
func (c Config) LimitListener(l net.Listener) net.Listener {
	c = c.WithDefaults()
	return &limitListener{Listener: l, slots: make(chan struct{}, c.Limits.MaxConnections),
		closed: make(chan struct{}), stats: c.Stats, log: c.ErrorLog, limit: c.Limits.MaxConnections,
		headTimeout: c.Limits.HeadTimeout, epoch: time.Now(), conns: make(map[*limitConn]struct{})}
}

type limitListener struct {
	net.Listener
	slots       chan struct{} // one token per open connection
	closed      chan struct{}
	closeOnce   sync.Once
	closeErr    error
	stats       *Stats
	log         *slog.Logger
	limit       int
	headTimeout time.Duration
	epoch       time.Time // phase times are durations since epoch: monotonic

	mu        sync.Mutex
	conns     map[*limitConn]struct{}
	loggedAt  time.Time
	hasLogged bool
}

func (l *limitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	// A slot is taken only for a connection that has arrived, so that a
	// listener exactly at its cap closes nothing for a connection that
	// never comes.
	select {
	case l.slots <- struct{}{}:
		return l.track(c), nil
	default:
	}
	l.stats.ConnsWaited.Add(1)
	l.logFull()
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		select {
		case l.slots <- struct{}{}:
			return l.track(c), nil
		case <-l.closed:
			c.Close()
			return nil, net.ErrClosed
		case <-poll.C:
			l.evict()
			// Connections turn idle or overstay their head time without
			// telling anyone; look again soon.
			poll.Reset(min(max(l.headTimeout/10, 5*time.Millisecond), 50*time.Millisecond))
		}
	}
}

// track wraps a connection that holds a slot.
func (l *limitListener) track(c net.Conn) net.Conn {
	lc := &limitConn{Conn: c, l: l}
	lc.since.Store(l.now())
	l.mu.Lock()
	l.conns[lc] = struct{}{}
	l.mu.Unlock()
	return lc
}

func (l *limitListener) now() int64 { return int64(time.Since(l.epoch)) }

// evict closes the connection a full listener can best spare, if any: the
// longest idle, or else the one reading a request for longest, provided that
// has taken more than headTimeout. Closing it frees its slot.
func (l *limitListener) evict() {
	slowBefore := l.now() - int64(l.headTimeout)
	var victim *limitConn
	var victimIdle bool
	var victimSince int64
	l.mu.Lock()
	for c := range l.conns {
		phase, since := Phase(c.phase.Load()), c.since.Load()
		older := victim == nil || since < victimSince
		switch {
		case phase == PhaseIdle && (!victimIdle || older):
			victim, victimIdle, victimSince = c, true, since
		case phase == PhaseReading && !victimIdle && since < slowBefore && older:
			victim, victimSince = c, since
		}
	}
	l.mu.Unlock()
	if victim == nil {
		return
	}
	if victimIdle {
		l.stats.EvictedIdle.Add(1)
	} else {
		l.stats.EvictedSlow.Add(1)
	}
	victim.Close()
}

// logFull logs that the listener is full, at most once per fullLogInterval.
func (l *limitListener) logFull() {
	l.mu.Lock()
	now := time.Now()
	due := !l.hasLogged || now.Sub(l.loggedAt) >= fullLogInterval
	if due {
		l.loggedAt, l.hasLogged = now, true
	}
	l.mu.Unlock()
	if due {
		l.log.Warn("gateway: listener full; closing idle and slow connections to make room",
			"max_connections", l.limit, "waits", l.stats.ConnsWaited.Load(),
			"closed_idle", l.stats.EvictedIdle.Load(), "cut_slow", l.stats.EvictedSlow.Load())
	}
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.closeErr = l.Listener.Close()
	})
	return l.closeErr
}

// limitConn gives its slot back on the first Close and tells the listener
// what it is doing.
type limitConn struct {
	net.Conn
	l     *limitListener
	once  sync.Once
	phase atomic.Int32
	since atomic.Int64 // when the phase began, in l.now() time
}

func (c *limitConn) setPhase(p Phase) {
	c.since.Store(c.l.now())
	c.phase.Store(int32(p))
}

func (c *limitConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		<-c.l.slots
	})
	return c.Conn.Close()
}
