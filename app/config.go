package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/strata-go/strata/app/api"
)

// config is the app's configuration.
type config struct {
	Addr        string
	MetricsAddr string // "" serves /metrics on Addr
	Data        string
	// Store is the default store; StoreAP and StoreCP, if set, hold the
	// schemas of that consistency instead (the messages are AP, the rest
	// CP), through a repo.Router.
	Store, StoreAP, StoreCP string
	Bus                     string
	Node                    int // -1: leased or drawn at start (see nodeID)
	Nodes                   []string
	Demo                    bool
	PresenceBeat            time.Duration
	UserRate, AppRate       int64
}

// envName is the environment variable of a flag: STRATA_CHAT_ and the
// flag's name in capitals, "-" as "_".
func envName(flag string) string {
	return "STRATA_CHAT_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// parseConfig reads the configuration: each setting from its flag, else
// its environment variable, else the configuration file (-config or
// STRATA_CHAT_CONFIG: a JSON object whose keys are the flags' names),
// else its default. The arguments after the flags are returned: an admin
// command.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, []string, error) {
	c := config{Node: -1}
	var node, nodes, configFile string
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&configFile, "config", "", "configuration file (JSON: {\"store\": \"…\", …}, keys as these flags)")
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "listen address of /metrics and /debug/pprof/ (default: /metrics on -addr, no profiles)")
	fs.StringVar(&c.Data, "data", "chat-data", "data directory of the default SQLite store")
	fs.StringVar(&c.Store, "store", "", "store URL (default: sqlite://DATA/chat.db)")
	fs.StringVar(&c.StoreAP, "store-ap", "", "store URL of the AP schemas, the messages (default: -store)")
	fs.StringVar(&c.StoreCP, "store-cp", "", "store URL of the CP schemas, all but the messages (default: -store)")
	fs.StringVar(&c.Bus, "bus", "", "bus URL: empty (in process), redis://… or postgres://…")
	fs.StringVar(&node, "node", "", "node id, 0–1023 (default: leased in Redis with a Redis bus, else random)")
	fs.StringVar(&nodes, "nodes", "", "the public URLs of the chat's nodes, comma-separated, for the widget (default: the node it loads from)")
	fs.BoolVar(&c.Demo, "demo", true, "serve the demo page and its token endpoint")
	fs.DurationVar(&c.PresenceBeat, "presence-beat", api.DefaultPresenceBeat, "how often a node announces who is connected through it (a dead node's users drop after three)")
	fs.Int64Var(&c.UserRate, "user-rate", api.DefaultUserRate, "sends a user may make per 10 s in a conversation")
	fs.Int64Var(&c.AppRate, "app-rate", api.DefaultAppRate, "sends an app's users may make per 10 s in all")
	fs.Usage = func() {
		fmt.Fprintln(out, "usage: app [flags] [command]\n\nflags (each also STRATA_CHAT_<NAME>, e.g. STRATA_CHAT_STORE_AP):")
		fs.PrintDefaults()
		fmt.Fprintln(out, adminUsage)
	}
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["config"] {
		configFile = getenv(envName("config"))
	}
	file, err := readConfigFile(configFile)
	if err != nil {
		return c, nil, err
	}
	var bad error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "config" || bad != nil {
			return
		}
		from, v := envName(f.Name), getenv(envName(f.Name))
		if v == "" {
			from, v = configFile, file[f.Name]
			delete(file, f.Name)
		}
		if v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				bad = fmt.Errorf("%s: %s: %v", from, f.Name, err)
			}
		}
	})
	if bad != nil {
		return c, nil, bad
	}
	for k := range file {
		if fs.Lookup(k) == nil || k == "config" {
			return c, nil, fmt.Errorf("%s: unknown setting %q", configFile, k)
		}
	}
	if c.PresenceBeat <= 0 || c.UserRate <= 0 || c.AppRate <= 0 {
		return c, nil, fmt.Errorf("presence-beat, user-rate and app-rate must be positive")
	}
	if node != "" {
		if c.Node, err = strconv.Atoi(node); err != nil || c.Node < 0 || c.Node > 1023 {
			return c, nil, fmt.Errorf("node %q is not 0–1023", node)
		}
	}
	for n := range strings.SplitSeq(nodes, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		u, err := url.Parse(n)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return c, nil, fmt.Errorf("nodes: %q is not a node's base URL (http[s]://host[:port])", n)
		}
		c.Nodes = append(c.Nodes, strings.TrimSuffix(n, "/"))
	}
	if c.Store == "" {
		abs, err := filepath.Abs(filepath.Join(c.Data, "chat.db"))
		if err != nil {
			return c, nil, err
		}
		c.Store = "sqlite://" + abs
	}
	return c, fs.Args(), nil
}

// readConfigFile reads a configuration file: a JSON object of settings,
// strings, numbers, booleans, or lists of strings (joined by commas).
func readConfigFile(name string) (map[string]string, error) {
	out := map[string]string{}
	if name == "" {
		return out, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("configuration file: %w", err)
	}
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers as written: 1000000, not 1e+06
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %w", name, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("%s: not a JSON object: null", name)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: not a JSON object: more after it", name)
	}
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			out[k] = v
		case json.Number:
			out[k] = v.String()
		case bool:
			out[k] = fmt.Sprint(v)
		case []any:
			var parts []string
			for _, p := range v {
				s, ok := p.(string)
				if !ok {
					return nil, fmt.Errorf("%s: %s: a list holds strings", name, k)
				}
				parts = append(parts, s)
			}
			out[k] = strings.Join(parts, ",")
		default:
			return nil, fmt.Errorf("%s: %s: want a string, number, boolean or list of strings", name, k)
		}
	}
	return out, nil
}
