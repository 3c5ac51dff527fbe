package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
)

// appKey is the app the generator signs its users' tokens for.
type appKey struct {
	app, keyID string
	secret     []byte
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

// freeAddr returns a loopback address nothing listens on, for a node's
// metrics and profiles listener.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// saveProfile fetches a profile from a node's /debug/pprof/ (name "heap",
// or "profile?seconds=N" for CPU) into file.
func saveProfile(ctx context.Context, addr, name, file string) error {
	b, err := pprofGet(ctx, addr, name)
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}

// pprofGet reads /debug/pprof/NAME from a node's metrics listener.
func pprofGet(ctx context.Context, addr, name string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/"+name, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("profile %s: %s", name, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// profileSelf starts the generator's own CPU profile of a step, into dir
// (nothing if dir is ""); stop ends it.
func profileSelf(dir string, rate float64) (stop func(), err error) {
	if dir == "" {
		return func() {}, nil
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("gen-cpu-%.0f.pb.gz", rate)))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// liveMemory collects a node's garbage and returns the bytes its live
// heap objects and its goroutines' stacks take (from the runtime's
// figures at the end of /debug/pprof/heap?debug=1).
func liveMemory(ctx context.Context, addr string) (heap, stacks int64, err error) {
	b, err := pprofGet(ctx, addr, "heap?debug=1&gc=1")
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "# HeapAlloc = "); ok {
			heap, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "# Stack = "); ok {
			v, _, _ = strings.Cut(v, " ")
			stacks, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if heap == 0 {
		return 0, 0, fmt.Errorf("memory figures: none in the node's heap profile")
	}
	return heap, stacks, nil
}
