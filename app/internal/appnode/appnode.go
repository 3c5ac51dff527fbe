// Package appnode runs the chat app's binary as a process of its own,
// for the tests and tools that need real nodes (the multi-process tests,
// the load generator): it builds the binary, starts a node, learns where
// it serves from the first line it prints, and stops or kills it.
package appnode

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Build builds the chat's binary into dir and returns its path.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "chat")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/strata-go/strata/app").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// Node is a running app node.
type Node struct {
	Base string        // http://host:port
	Logs *bytes.Buffer // what it wrote to stderr
	cmd  *exec.Cmd
}

// startTimeout bounds a node's start (migrations included).
const startTimeout = time.Minute

// Start runs bin with args (which should include -addr) and waits until
// the node prints where it serves.
func Start(bin string, args ...string) (*Node, error) {
	n := &Node{Logs: &bytes.Buffer{}, cmd: exec.Command(bin, args...)}
	n.cmd.Stderr = n.Logs
	out, err := n.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	got := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(out)
		if lines.Scan() {
			got <- lines.Text()
		}
		close(got)
		for lines.Scan() {
		}
	}()
	select {
	case line := <-got:
		n.Base = regexp.MustCompile(`http://[0-9.:]+`).FindString(line)
	case <-time.After(startTimeout):
	}
	if n.Base == "" {
		n.Kill()
		return nil, fmt.Errorf("a node did not start; its logs:\n%s", n.Logs)
	}
	return n, nil
}

// Addr returns the node's host:port.
func (n *Node) Addr() string { return strings.TrimPrefix(n.Base, "http://") }

// Stop ends the node gracefully (SIGTERM: it tells its clients to move)
// and returns how it exited; past timeout it is killed.
func (n *Node) Stop(timeout time.Duration) error {
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- n.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		n.cmd.Process.Kill()
		<-done
		return fmt.Errorf("the node did not stop within %v", timeout)
	}
}

// Kill ends the node at once (SIGKILL): no goodbye to its clients.
func (n *Node) Kill() {
	n.cmd.Process.Kill()
	n.cmd.Wait()
}

// Pid returns the node's process id.
func (n *Node) Pid() int { return n.cmd.Process.Pid }

// RSS returns the node's resident memory, in bytes (Linux).
func (n *Node) RSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.Pid()))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// CPU returns the user and system time a process has used (Linux: from
// /proc/PID/stat, in clock ticks of 1/100 s).
func CPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis (utime and stime are fields 14, 15).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// MachineCPU returns the time all the machine's cores have been busy
// (Linux: /proc/stat, in ticks of 1/100 s): the nodes, the caller, the
// stores' servers and whatever else runs.
func MachineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:8] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * 10 * time.Millisecond
}
