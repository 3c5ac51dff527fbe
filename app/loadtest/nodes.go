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
	"regexp"
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/"+name, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s", name, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
