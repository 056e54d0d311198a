package authn

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"
)

// Why bcrypt runs in a helper process.
//
// A bcrypt-12 check is a quarter second of CPU that Go cannot preempt in
// any useful way: while password checks occupy every P, the scheduler does
// not poll the network, so anonymous and cached requests wait for the next
// 10 ms preemption tick and their throughput collapses (to about a tenth on
// two cores, measured with 64 clients guessing passwords). Keeping a core
// free for them helps, but wastes that core for logins when nothing else
// runs. What is wanted is a priority: bcrypt may use whatever CPU nobody
// else wants. Go has no goroutine priorities, and lowering the priority of
// an OS thread that holds a P would stall every garbage collection behind
// it. A separate process in the kernel's idle scheduling class (SCHED_IDLE,
// or nice 19 where that is refused) gets exactly that: the whole machine
// when it is otherwise idle, next to nothing while nginx and the request
// path want the CPU.
//
// The helper is the same binary started with arguments that make it call
// ServeWorker; StartWorker starts it with a pipe either way. The parent
// keeps admission control (Verifier's slots and queue); the helper only
// compares. If the helper dies, Compare falls back to comparing in-process.

// ErrWorkerGone is wrapped by the error Err returns once the helper process
// has exited; comparisons then run in-process.
var ErrWorkerGone = errors.New("authn: bcrypt helper process exited")

// maxWireField bounds a hash or password on the pipe (a bcrypt hash is 60
// bytes; bcrypt reads at most 72 bytes of a password).
const maxWireField = 1<<16 - 1

// Worker runs bcrypt comparisons in a helper process at the lowest CPU
// priority (see lowerThreadPriority). Its Compare method is meant for
// Options.Compare. It is safe for concurrent use.
type Worker struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	wmu  sync.Mutex // serialises requests on in
	mu   sync.Mutex
	next uint32
	wait map[uint32]chan bool
	err  error // set once the helper is gone
	done chan struct{}

	// Fallbacks counts comparisons made in-process because the helper
	// was gone.
	Fallbacks atomic.Uint64
}

// StartWorker starts cmd as the bcrypt helper, on Linux in the idle
// scheduling class (the process inherits the class of the thread that
// starts it, so no thread of it ever runs at normal priority). cmd must make the program call
// ServeWorker(os.Stdin, os.Stdout); StartWorker sets its Stdin and Stdout
// and leaves Stderr as given.
func StartWorker(cmd *exec.Cmd) (*Worker, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := startLowPriority(cmd); err != nil {
		return nil, fmt.Errorf("authn: starting the bcrypt helper: %w", err)
	}
	w := &Worker{cmd: cmd, in: in, wait: make(map[uint32]chan bool), done: make(chan struct{})}
	go w.readAnswers(out)
	return w, nil
}

// startLowPriority starts cmd from an OS thread whose priority was lowered
// first (an unprivileged process cannot raise it back). That thread is
// never handed back to the Go scheduler: the goroutine exits while locked
// to it, which ends the thread, or parks it for good if it is the main
// thread.
func startLowPriority(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := lowerThreadPriority(); err != nil {
			errc <- err
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// Compare reports whether password matches hash, like
// bcrypt.CompareHashAndPassword == nil. It returns early with ctx's error
// when ctx ends first (the helper finishes that comparison for nothing).
func (w *Worker) Compare(ctx context.Context, hash []byte, password string) (bool, error) {
	if len(hash) > maxWireField || len(password) > maxWireField || w.Err() != nil {
		return w.compareHere(hash, password), nil
	}
	id, answer := w.register()
	if err := w.send(id, hash, password); err != nil {
		w.forget(id)
		return w.compareHere(hash, password), nil
	}
	select {
	case ok, open := <-answer:
		if !open { // the helper died with this comparison in flight
			return w.compareHere(hash, password), nil
		}
		return ok, nil
	case <-ctx.Done():
		w.forget(id)
		return false, ctx.Err()
	}
}

func (w *Worker) compareHere(hash []byte, password string) bool {
	w.Fallbacks.Add(1)
	return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
}

func (w *Worker) register() (uint32, chan bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.next++
	answer := make(chan bool, 1)
	w.wait[w.next] = answer
	return w.next, answer
}

func (w *Worker) forget(id uint32) {
	w.mu.Lock()
	delete(w.wait, id)
	w.mu.Unlock()
}

// send writes one request: id, hash and password, each field prefixed by
// its length, big-endian.
func (w *Worker) send(id uint32, hash []byte, password string) error {
	msg := make([]byte, 0, 8+len(hash)+len(password))
	msg = binary.BigEndian.AppendUint32(msg, id)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(hash)))
	msg = append(msg, hash...)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(password)))
	msg = append(msg, password...)
	w.wmu.Lock()
	defer w.wmu.Unlock()
	_, err := w.in.Write(msg)
	clear(msg) // the password should not linger in a garbage buffer
	return err
}

// readAnswers delivers the helper's answers (id, then 1 for a match or 0)
// until it exits, then fails what is still waiting.
func (w *Worker) readAnswers(out io.Reader) {
	br := bufio.NewReader(out)
	var buf [5]byte
	var err error
	for {
		if _, err = io.ReadFull(br, buf[:]); err != nil {
			break
		}
		id := binary.BigEndian.Uint32(buf[:4])
		w.mu.Lock()
		answer, ok := w.wait[id]
		delete(w.wait, id)
		w.mu.Unlock()
		if ok {
			answer <- buf[4] == 1
		}
	}
	w.cmd.Wait()
	w.mu.Lock()
	w.err = fmt.Errorf("%w: %v", ErrWorkerGone, err)
	for id, answer := range w.wait {
		close(answer)
		delete(w.wait, id)
	}
	w.mu.Unlock()
	close(w.done)
}

// Err returns nil while the helper runs, and an error wrapping
// ErrWorkerGone once it has exited (comparisons then run in-process).
func (w *Worker) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close ends the helper: closing its input makes ServeWorker return. It
// waits until the helper has exited.
func (w *Worker) Close() error {
	w.wmu.Lock()
	err := w.in.Close()
	w.wmu.Unlock()
	<-w.done
	return err
}

// ServeWorker is the helper's side: it reads requests from r, compares each
// on its own goroutine (at most GOMAXPROCS at once), and writes the answers
// to w in the order they finish. It returns nil when r ends, and an error
// for a malformed stream. It never logs.
func ServeWorker(r io.Reader, w io.Writer) error {
	br := bufio.NewReader(r)
	var wmu sync.Mutex
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	var running sync.WaitGroup
	defer running.Wait()
	for {
		id, hash, password, err := readRequest(br)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		slots <- struct{}{}
		running.Go(func() {
			defer func() { <-slots }()
			answer := binary.BigEndian.AppendUint32(make([]byte, 0, 5), id)
			if bcrypt.CompareHashAndPassword(hash, password) == nil {
				answer = append(answer, 1)
			} else {
				answer = append(answer, 0)
			}
			clear(password)
			wmu.Lock()
			defer wmu.Unlock()
			w.Write(answer)
		})
	}
}

// readRequest reads one request; io.EOF only when the stream ends between
// requests.
func readRequest(br *bufio.Reader) (id uint32, hash, password []byte, err error) {
	var head [4]byte
	if _, err = io.ReadFull(br, head[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("authn: truncated request: %w", err)
		}
		return 0, nil, nil, err
	}
	if hash, err = readField(br); err != nil {
		return 0, nil, nil, err
	}
	if password, err = readField(br); err != nil {
		return 0, nil, nil, err
	}
	return binary.BigEndian.Uint32(head[:]), hash, password, nil
}

func readField(br *bufio.Reader) ([]byte, error) {
	var n [2]byte
	if _, err := io.ReadFull(br, n[:]); err != nil {
		return nil, fmt.Errorf("authn: truncated request: %w", noEOF(err))
	}
	b := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, fmt.Errorf("authn: truncated request: %w", noEOF(err))
	}
	return b, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
