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
	"sync"
	"syscall"
	"time"
)

// Build builds the chat's binary into dir and returns its path.
func Build(ctx context.Context, dir string) (string, error) {
	return build(ctx, dir, "chat", "github.com/strata-go/strata/app")
}

// BuildRiaktest builds riaktest's command (an emulated Riak cluster) into
// dir and returns its path.
func BuildRiaktest(ctx context.Context, dir string) (string, error) {
	return build(ctx, dir, "riaktest", "github.com/strata-go/strata/adapters/riak/riaktest/cmd/riaktest")
}

func build(ctx context.Context, dir, name, pkg string) (string, error) {
	bin := filepath.Join(dir, name)
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", name, err, out)
	}
	return bin, nil
}

// Binaries builds the chat's and riaktest's binaries into a temporary
// directory of its own, each at most once, for the tests of one test
// binary; Remove (from TestMain) deletes the directory.
type Binaries struct {
	prefix string
	mu     sync.Mutex
	dir    string
	built  map[string]string // name → path
}

// NewBinaries returns a Binaries whose directory's name starts with prefix.
func NewBinaries(prefix string) *Binaries {
	return &Binaries{prefix: prefix, built: map[string]string{}}
}

// App returns the chat's binary, building it the first time.
func (b *Binaries) App() (string, error) { return b.get("chat", Build) }

// Riaktest returns riaktest's binary, building it the first time.
func (b *Binaries) Riaktest() (string, error) { return b.get("riaktest", BuildRiaktest) }

func (b *Binaries) get(name string, build func(context.Context, string) (string, error)) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if bin, ok := b.built[name]; ok {
		return bin, nil
	}
	if b.dir == "" {
		dir, err := os.MkdirTemp("", b.prefix)
		if err != nil {
			return "", err
		}
		b.dir = dir
	}
	bin, err := build(context.Background(), b.dir)
	if err != nil {
		return "", err
	}
	b.built[name] = bin
	return bin, nil
}

// Remove deletes the binaries.
func (b *Binaries) Remove() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dir != "" {
		os.RemoveAll(b.dir)
		b.dir, b.built = "", map[string]string{}
	}
}

// Riaktest is riaktest's emulated Riak cluster run as a process.
type Riaktest struct {
	URL  string        // the cluster's Strata URL (riak://...)
	Logs *bytes.Buffer // what it wrote to stderr; complete after Stop
	cmd  *exec.Cmd
}

// StartRiaktest runs bin (see BuildRiaktest) as a cluster of nodes nodes
// and waits until it prints its URL. It dies with the process that
// started it, should that die first.
func StartRiaktest(bin string, nodes int) (*Riaktest, error) {
	r := &Riaktest{Logs: &bytes.Buffer{}, cmd: exec.Command(bin, "-nodes", strconv.Itoa(nodes))}
	r.cmd.Stderr = r.Logs
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err == nil && !strings.HasPrefix(line, "riak://") {
		err = fmt.Errorf("it printed %q", line)
	}
	if err != nil {
		r.Stop()
		return nil, fmt.Errorf("riaktest did not start: %w\n%s", err, r.Logs)
	}
	r.URL = strings.TrimSpace(line)
	return r, nil
}

// Stop kills the cluster and waits until it has exited.
func (r *Riaktest) Stop() {
	r.cmd.Process.Kill()
	r.cmd.Wait()
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
