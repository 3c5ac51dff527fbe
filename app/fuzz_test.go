package main

// Fuzz targets of what the app itself reads from outside, besides the
// API's (package api has its own): its JSON configuration file, and the
// demo page's token endpoint.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-go/strata/adapters/memory"
	"github.com/strata-go/strata/app/api"
	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/app/web"
	"github.com/strata-go/strata/repo"
)

// FuzzConfigFile reads fuzzed configuration files (-config) as the app
// does: never a panic; a file that is not a JSON object, a key that is
// not a setting's (or is "config"), and a value that is not a string,
// number, boolean or list of strings are refused; and a file means what
// the same settings mean in the environment (a string as it is, a
// boolean as true or false, a list's strings joined by commas, and an
// integral number in decimal): one is refused if and only if the other
// is, and they give the same configuration.
func FuzzConfigFile(f *testing.F) {
	// The file is written for every input: in memory, where there is a
	// tmpfs (a disk's open, write and close take most of the time).
	dir, err := os.MkdirTemp("/dev/shm", "strata-fuzz-")
	if err == nil {
		f.Cleanup(func() { os.RemoveAll(dir) })
	} else {
		dir = f.TempDir()
	}
	name := filepath.Join(dir, "config.json")
	noEnv := func(string) string { return "" }
	// The settings are the flags, as -help lists them.
	var usage bytes.Buffer
	if _, _, err := parseConfig([]string{"-help"}, noEnv, &usage); !errors.Is(err, flag.ErrHelp) {
		f.Fatalf("-help: %v", err)
	}
	settings := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`).FindAllStringSubmatch(usage.String(), -1) {
		settings[m[1]] = true
	}
	for _, want := range []string{"config", "store", "nodes", "node", "demo", "presence-beat", "user-rate"} {
		if !settings[want] {
			f.Fatalf("no -%s in the usage:\n%s", want, usage.String())
		}
	}

	for _, s := range []string{
		`{"addr": ":11", "store": "memory://", "store-ap": "memory://ap", "bus": "redis://r:6379",
		"node": 12, "demo": false, "nodes": ["https://n1.example", "https://n2.example/"], "metrics-addr": "127.0.0.1:9100"}`,
		`{"store-cp": "postgres://u:p@db/chat", "data": "/var/lib/chat", "presence-beat": "2s", "user-rate": 20, "app-rate": 2000}`,
		`{"user-rate": "50", "app-rate": "0x10", "node": "1023", "demo": "true", "nodes": "http://a:1,https://b"}`,
		`{"presence-beat": "1h30m", "demo": 1, "node": 0}`,
		`{}`, `{"addr": ""}`, `{"nodes": []}`, `{"nodes": [""]}`,
		`{"stor": "memory://"}`, `{"config": "other.json"}`, `{"Store": "memory://"}`, `{"demo": "maybe"}`, `{"nodes": [1]}`,
		`{"store": {"url": "x"}}`, `{"store": null}`, `{"node": 1024}`, `{"node": -1}`, `{"node": 1.5}`, `{"node": 7e2}`,
		`{"user-rate": 0}`, `{"user-rate": -5}`, `{"user-rate": 9223372036854775807}`, `{"presence-beat": 5}`, `{"presence-beat": "-1s"}`,
		`{"nodes": "ftp://n1"}`, `{"nodes": "https://n1/chat/x"}`, `{"nodes": ["https://a", 2]}`, `{"addr": ":1", "addr": ":2"}`,
		`not json`, ``, `[]`, `"store"`, `{"store": "x"} {"bus": "y"}`, "\xef\xbb\xbf{}", `{"store": "\u0000"}`,
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, content []byte) {
		if err := os.WriteFile(name, content, 0o600); err != nil {
			t.Fatal(err)
		}
		stop := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("parseConfig of %q hung", content)) }).Stop
		cfg, args, err := parseConfig([]string{"-config", name}, noEnv, io.Discard)
		stop()
		if err == nil && len(args) > 0 {
			t.Fatalf("%q: a command %q from a configuration file", content, args)
		}
		var raw map[string]any
		dec := json.NewDecoder(bytes.NewReader(content))
		dec.UseNumber() // a number means what it says as written
		jerr := dec.Decode(&raw)
		if jerr == nil {
			if _, end := dec.Token(); end != io.EOF {
				jerr = fmt.Errorf("more after the object (%v)", end)
			}
		}
		if jerr != nil || raw == nil {
			if err == nil {
				t.Fatalf("%q, not a JSON object, accepted as %+v", content, cfg)
			}
			return
		}
		env := map[string]string{}
		for k, v := range raw {
			s, ok := settingValue(v)
			switch {
			case !settings[k] || k == "config":
				if err == nil {
					t.Fatalf("%q: unknown setting %q accepted", content, k)
				}
				return
			case !ok:
				if err == nil {
					t.Fatalf("%q: setting %q of %T accepted", content, k, v)
				}
				return
			}
			env[envName(k)] = s
		}
		cfgEnv, _, errEnv := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
		if (err == nil) != (errEnv == nil) || err == nil && !reflect.DeepEqual(cfg, cfgEnv) {
			t.Fatalf("the file %q gives %+v (error: %v), but the same settings in the environment (%q) give %+v (error: %v)",
				content, cfg, err, env, cfgEnv, errEnv)
		}
	})
}

// settingValue is what a value of the configuration file says as a
// setting, if it is of a kind a setting may be.
func settingValue(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case json.Number:
		return v.String(), true
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			s, ok := p.(string)
			if !ok {
				return "", false
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), true
	}
	return "", false
}

// FuzzDemoToken asks the demo page's token endpoint for fuzzed query
// strings (as the server reads them off the request line), on the app's
// routes as run mounts them: never a 5xx nor a panic; a name of 1–32
// letters, digits, - or _ gets a token of the demo app's conversation
// for that user, which the API accepts; any other a 400 with a JSON
// error.
func FuzzDemoToken(f *testing.F) {
	ctx := context.Background()
	r, err := repo.New(memory.New())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { r.Close() })
	if err := migrateUp(ctx, r, slog.New(slog.DiscardHandler)); err != nil {
		f.Fatal(err)
	}
	svc := chat.New(r, chat.Options{})
	f.Cleanup(svc.Close)
	srv, err := api.New(svc, api.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	web.MountWidget(srv.Echo(), nil)
	if err := web.Mount(ctx, srv.Echo(), svc); err != nil {
		f.Fatal(err)
	}
	valid := regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

	for _, q := range []string{"user=ann", "user=Ann_the-2nd", "user=" + strings.Repeat("a", 32), "user=" + strings.Repeat("a", 33),
		"user=", "", "user", "user=a+b", "user=a%20b", "user=%C3%BC", "user=ü", "user=%00", "user=a&user=b", "user=&user=b",
		"user=%zz", "user=%3Cscript%3E", "USER=ann", "user=ann;x=1", "x=1&user=bob", "user=%E2%80%AE", "user=a%0Ab"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /demo/token?" + q + " HTTP/1.1\r\nHost: chat.test\r\n\r\n")))
		if err != nil {
			return // the server answers 400 before the app sees it
		}
		rec := httptest.NewRecorder()
		stop := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("GET /demo/token?%s hung", q)) }).Stop
		srv.ServeHTTP(rec, req)
		stop()
		user := req.URL.Query().Get("user")
		what := fmt.Sprintf("/demo/token?%s", q)
		body := rec.Body.Bytes()
		switch st := rec.Code; {
		case st == http.StatusOK:
			var got map[string]string
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("%s: %v: %q", what, err, body)
			}
			tok, err := chat.ParseToken(ctx, got["token"], svc.KeyFunc(), time.Now())
			if err != nil {
				t.Fatalf("%s: a token the API refuses: %v", what, err)
			}
			if !valid.MatchString(user) || tok.User != user || tok.Name != user || tok.App != web.AppID ||
				tok.Conversation != web.Conversation || tok.Role != chat.RoleMember {
				t.Fatalf("%s: a token of %+v", what, tok)
			}
		case st == http.StatusBadRequest:
			var got map[string]string
			if err := json.Unmarshal(body, &got); err != nil || got["error"] == "" {
				t.Fatalf("%s: 400 without a JSON error: %q", what, body)
			}
			if valid.MatchString(user) {
				t.Fatalf("%s: user %q refused", what, user)
			}
		default:
			t.Fatalf("%s: status %d: %q", what, st, body)
		}
	})
}
