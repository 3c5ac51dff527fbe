package main

import (
	"context"
	"encoding/hex"
	"fmt"
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
