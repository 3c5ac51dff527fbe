package testservers

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Process is one run of a server program that a test starts, stops,
// kills and starts again (a Redis Cluster node here; PostgreSQL and Redis
// in the fault tests), its output appended to a log file.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited
	err  error         // cmd.Wait's, set before done is closed
}

// Spawn starts bin with args in dir, as cred's user (nil: this process's),
// its output appended to the file at log after a line saying when it
// started. It dies with the test binary, should that die without its
// cleanups (a timeout's panic).
func Spawn(log, dir string, cred *syscall.Credential, bin string, args ...string) (*Process, error) {
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own copy
	fmt.Fprintf(f, "---- %s: starting %s\n", time.Now().Format(time.RFC3339Nano), filepath.Base(bin))
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Running reports whether p (which may be nil: never started) has not
// exited.
func (p *Process) Running() bool {
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Done is closed once p has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how p exited (exec.Cmd.Wait's error, nil for status 0), once
// Done is closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Pid is p's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop sends sig to p and waits until it has exited; past within it
// kills it (SIGKILL) and, if it has not exited within that again, fails.
// A p that has exited is left alone.
func (p *Process) Stop(sig syscall.Signal, within time.Duration) error {
	if !p.Running() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal pid %d: %w", p.Pid(), err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(within):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		if sig == syscall.SIGKILL {
			return nil
		}
		return fmt.Errorf("pid %d did not exit within %v of %v: killed", p.Pid(), within, sig)
	case <-time.After(within):
		return fmt.Errorf("pid %d still running %v after SIGKILL", p.Pid(), within)
	}
}

// LogTail returns the last lines of the file at path (or why it cannot).
func LogTail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return LastLines(string(b), lines)
}

// LastLines returns the last lines of s.
func LastLines(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-lines):], "\n")
}
