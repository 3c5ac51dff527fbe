package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// node is an app node the generator started, a process of its own.
type node struct {
	base string
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

// appKey is the app the generator signs its users' tokens for.
type appKey struct {
	app, keyID string
	secret     []byte
}

// buildApp builds the chat's binary into dir.
func buildApp(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "chat")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/strata-go/strata/app").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// createApp makes an app for the run with the chat's admin command.
func createApp(ctx context.Context, bin string, common []string) (appKey, error) {
	out, err := exec.CommandContext(ctx, bin, append(common, "app", "create", "loadtest")...).CombinedOutput()
	if err != nil {
		return appKey{}, fmt.Errorf("app create: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`app (\S+) \(loadtest\)\nkey (\S+) secret ([0-9a-f]+)`).FindStringSubmatch(string(out))
	if m == nil {
		return appKey{}, fmt.Errorf("app create said %q", out)
	}
	secret, err := hex.DecodeString(m[3])
	return appKey{app: m[1], keyID: m[2], secret: secret}, err
}

// startNode starts a node and waits until it says where it serves.
func startNode(bin string, args []string) (*node, error) {
	n := &node{logs: &bytes.Buffer{}}
	n.cmd = exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	n.cmd.Stderr = n.logs
	out, err := n.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	lines := bufio.NewScanner(out)
	got := make(chan string, 1)
	go func() {
		if lines.Scan() {
			got <- lines.Text()
		}
		close(got)
		for lines.Scan() {
		}
	}()
	select {
	case line := <-got:
		n.base = regexp.MustCompile(`http://[0-9.:]+`).FindString(line)
	case <-time.After(60 * time.Second):
	}
	if n.base == "" {
		n.stop()
		return nil, fmt.Errorf("a node did not start: %s", n.logs)
	}
	return n, nil
}

// stop ends the node gracefully.
func (n *node) stop() {
	if n.cmd.Process != nil {
		n.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { n.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			n.cmd.Process.Kill()
			<-done
		}
	}
}

// cpu returns the CPU time the node's process has used.
func (n *node) cpu() time.Duration { return procCPU(n.cmd.Process.Pid) }

// rss returns the node's resident memory, in bytes.
func (n *node) rss() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.cmd.Process.Pid))
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

// procCPU returns the user and system time of a process (Linux: from
// /proc/PID/stat, in clock ticks of 1/100 s).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
