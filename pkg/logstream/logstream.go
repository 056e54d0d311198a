// Package logstream gives regtoken's log lines their destinations: standard
// error, or a file that logrotate can move away (Reopen opens it again).
//
// A Stream buffers what is written to it and flushes it every interval, at
// Close, and whenever a line arrives through Now. Audit lines, one per
// request, go through the buffer (one write(2) per line cost a quarter of
// regtoken's CPU under load); lifecycle lines go through Now, so they
// appear at once and after every audit line written before them, even on
// the same stream.
//
// The package knows nothing about the lines' format or content.
package logstream

import (
	"bufio"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// FileMode is the permission of an audit file Open creates: the log names
// users and addresses, so only its owner and group read it.
const FileMode os.FileMode = 0o640

// Stream is one buffered destination, safe for concurrent use.
type Stream struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	file *os.File // the open file, for Reopen and Close; nil for a writer
	path string

	stop chan struct{}
	done chan struct{}
}

// New returns a Stream onto w, flushed every interval.
func New(w io.Writer, interval time.Duration) *Stream {
	s := &Stream{buf: bufio.NewWriterSize(w, 64<<10)}
	s.start(interval)
	return s
}

// Open returns a Stream onto the file at path, appended to and created with
// FileMode when missing, flushed every interval.
func Open(path string, interval time.Duration) (*Stream, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	s := &Stream{buf: bufio.NewWriterSize(f, 64<<10), file: f, path: path}
	s.start(interval)
	return s, nil
}

func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, FileMode)
}

func (s *Stream) start(interval time.Duration) {
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.Flush()
			case <-s.stop:
				return
			}
		}
	}()
}

// Write buffers p; it reaches the destination at the next flush.
func (s *Stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// Now returns a writer whose every Write is flushed at once, with whatever
// the stream buffered before it: for the lines people watch for.
func (s *Stream) Now() io.Writer { return nowWriter{s} }

type nowWriter struct{ s *Stream }

func (w nowWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	n, err := w.s.buf.Write(p)
	if err == nil {
		err = w.s.buf.Flush()
	}
	return n, err
}

// Flush writes out what is buffered.
func (s *Stream) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Flush()
}

// ErrNotFile is Reopen's answer for a Stream that New made.
var ErrNotFile = errors.New("logstream: not a file: nothing to reopen")

// Reopen flushes what is buffered into the file, closes it and opens path
// again, so that lines after a logrotate move go to a new file. When the
// file cannot be opened, lines keep going to the old one.
func (s *Stream) Reopen() error {
	if s.file == nil {
		return ErrNotFile
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	flushErr := s.buf.Flush()
	f, err := openFile(s.path)
	if err != nil {
		return err
	}
	s.file.Close()
	s.file = f
	s.buf.Reset(f)
	return flushErr
}

// Close flushes what is buffered, stops the flusher and closes the file.
func (s *Stream) Close() error {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.buf.Flush()
	if s.file != nil {
		err = errors.Join(err, s.file.Close())
	}
	return err
}
