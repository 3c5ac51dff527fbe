package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strconv"
)

// config is the app's configuration.
type config struct {
	Addr  string
	Data  string
	Store string
	Bus   string
	Node  int
	Demo  bool
}

// parseConfig reads flags, falling back to environment variables, then
// to the defaults.
// The arguments after the flags are returned: an admin command.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, []string, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var c config
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Addr, "addr", env("STRATA_CHAT_ADDR", "127.0.0.1:8080"), "listen address")
	fs.StringVar(&c.Data, "data", env("STRATA_CHAT_DATA", "chat-data"), "data directory of the default SQLite store")
	fs.StringVar(&c.Store, "store", env("STRATA_CHAT_STORE", ""), "store URL (default: sqlite://DATA/chat.db)")
	fs.StringVar(&c.Bus, "bus", env("STRATA_CHAT_BUS", ""), "bus URL: empty (in process), redis://… or postgres://…")
	node := env("STRATA_CHAT_NODE", "")
	fs.StringVar(&node, "node", node, "node id, 0–1023 (default: random)")
	demo, err := strconv.ParseBool(env("STRATA_CHAT_DEMO", "true"))
	if err != nil {
		return c, nil, fmt.Errorf("STRATA_CHAT_DEMO: %v", err)
	}
	fs.BoolVar(&c.Demo, "demo", demo, "serve the demo page and its token endpoint")
	fs.Usage = func() {
		fmt.Fprintln(out, "usage: app [flags] [command]")
		fs.PrintDefaults()
		fmt.Fprintln(out, adminUsage)
	}
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	if node == "" {
		c.Node = rand.IntN(1024)
	} else if c.Node, err = strconv.Atoi(node); err != nil || c.Node < 0 || c.Node > 1023 {
		return c, nil, fmt.Errorf("node %q is not 0–1023", node)
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
