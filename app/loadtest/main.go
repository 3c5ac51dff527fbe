// Command loadtest measures the chat as its users meet it: it builds the
// app, starts nodes of it as processes on the store and bus it is given,
// connects clients spread over the nodes and over conversations, and
// sweeps a rate of sends, each step on a fixed schedule whatever the
// answers (no coordinated omission: a message carries its scheduled
// time, and latency runs from it to the receipt by each other member).
// It prints a table of sends and deliveries per second, latency
// percentiles, errors, duplicates and the CPU the nodes and the
// generator used, and stops by itself.
//
//	go run ./app/loadtest -clients 1000 -convs 100 -rates 1000,2000,5000 -duration 10s
//	go run ./app/loadtest -store postgres://… -bus redis://… -nodes 3
//
// Without -store it runs on a SQLite file in a temporary directory. In
// the store and bus URLs, {dir} stands for that directory and {n} for a
// namespace of the run's own; -store riaktest starts an emulated Riak
// cluster as a process. scripts/load.sh (make load) runs every store
// configuration.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/strata-go/strata/app/internal/appnode"
)

// config is the generator's configuration.
type config struct {
	Store, Bus, Label string
	Nodes             int
	Clients, Convs    int
	Rates             []float64
	Duration, Drain   time.Duration
	P99               time.Duration
	Profile           string // a directory for the first node's profiles
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	var rates string
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Store, "store", "", "the nodes' store URL (default: SQLite in a temporary directory; riaktest: an emulated 3-node Riak cluster, started as a process)")
	fs.StringVar(&c.Bus, "bus", "", "the nodes' bus URL (needed for more than one node)")
	fs.StringVar(&c.Label, "label", "", "the store's name in the table (default: the URL's scheme)")
	fs.IntVar(&c.Nodes, "nodes", 1, "app nodes to start")
	fs.IntVar(&c.Clients, "clients", 1000, "WebSocket clients")
	fs.IntVar(&c.Convs, "convs", 100, "conversations, the clients spread evenly over them")
	fs.StringVar(&rates, "rates", "1000,2000,5000", "sends per second in all, a step of the sweep each")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long each step sends")
	fs.DurationVar(&c.Drain, "drain", 5*time.Second, "how long a step waits for its last deliveries")
	fs.StringVar(&c.Profile, "profile", "", "write the first node's heap profile with the clients connected, and its and the generator's CPU profiles of each step, into this directory")
	fs.DurationVar(&c.P99, "p99", 50*time.Millisecond, "the latency target of the 99th percentile")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for r := range strings.SplitSeq(rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 {
			return c, fmt.Errorf("rates: %q is not a positive number", r)
		}
		c.Rates = append(c.Rates, v)
	}
	switch {
	case c.Nodes < 1 || c.Clients < 2 || c.Convs < 1 || c.Convs > c.Clients/2:
		return c, fmt.Errorf("want nodes ≥ 1, clients ≥ 2 and 1 ≤ convs ≤ clients/2")
	case c.Nodes > 1 && c.Bus == "":
		return c, fmt.Errorf("%d nodes need a -bus", c.Nodes)
	case c.Duration <= 0 || c.Drain < 0:
		return c, fmt.Errorf("want a positive duration")
	}
	if c.Label == "" {
		c.Label = "sqlite"
		if c.Store != "" {
			c.Label, _, _ = strings.Cut(c.Store, "://")
		}
	}
	return c, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	if _, err := sweep(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// sweep starts the nodes, connects the clients, runs each rate and
// prints the table.
func sweep(ctx context.Context, cfg config, out io.Writer) ([]result, error) {
	dir, err := os.MkdirTemp("", "strata-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin, err := appnode.Build(ctx, dir)
	if err != nil {
		return nil, err
	}
	// Placeholders of the store and bus URLs: the run's directory, and a
	// namespace of its own.
	ns := fmt.Sprintf("load%d", time.Now().UnixNano())
	place := strings.NewReplacer("{dir}", dir, "{n}", ns)
	cfg.Store, cfg.Bus = place.Replace(cfg.Store), place.Replace(cfg.Bus)
	if cfg.Store == "riaktest" {
		rbin, err := appnode.BuildRiaktest(ctx, dir)
		if err != nil {
			return nil, err
		}
		r, err := appnode.StartRiaktest(rbin, 3)
		if err != nil {
			return nil, err
		}
		defer r.Stop()
		cfg.Store = r.URL
	}
	common := []string{"-data", dir, "-demo=false", "-user-rate", "1000000000", "-app-rate", "1000000000"}
	if cfg.Store != "" {
		common = append(common, "-store", cfg.Store)
	}
	if cfg.Bus != "" {
		common = append(common, "-bus", cfg.Bus)
	}
	key, err := createApp(ctx, bin, common) // migrates, before the nodes start
	if err != nil {
		return nil, err
	}
	var nodes []*appnode.Node
	defer func() {
		for _, n := range nodes {
			n.Stop(15 * time.Second)
		}
	}()
	// Every node serves its runtime's figures and profiles on a
	// listener of its own.
	var bases, pprofAddrs []string
	for range cfg.Nodes {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		n, err := appnode.Start(bin, append([]string{"-addr", "127.0.0.1:0", "-metrics-addr", addr}, common...)...)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
		bases = append(bases, n.Base)
		pprofAddrs = append(pprofAddrs, addr)
	}
	pprofAddr := pprofAddrs[0]
	// What the nodes hold: resident memory, and (after a collection)
	// the Go heap's live objects and the goroutines' stacks.
	held := func() (rss, live int64, err error) {
		for i, n := range nodes {
			heap, stacks, err := liveMemory(ctx, pprofAddrs[i])
			if err != nil {
				return 0, 0, err
			}
			rss += n.RSS()
			live += heap + stacks
		}
		return rss, live, nil
	}
	rss0, live0, err := held()
	if err != nil {
		return nil, err
	}
	f, err := connect(ctx, key, bases, cfg.Clients, cfg.Convs)
	if err != nil {
		return nil, err
	}
	defer f.close()
	time.Sleep(2 * time.Second) // the connections settle (catch-ups, presence)
	rss1, live1, err := held()
	if err != nil {
		return nil, err
	}
	kb := func(a, b int64) float64 { return float64(b-a) / float64(cfg.Clients) / 1024 }
	fmt.Fprintf(out, "%s, %d node(s), %d clients in %d conversations: per connected client, %.1f KB of the nodes' resident memory, %.1f KB live (heap objects and stacks)\n\n",
		cfg.Label, cfg.Nodes, cfg.Clients, cfg.Convs, kb(rss0, rss1), kb(live0, live1))
	if cfg.Profile != "" {
		for name, file := range map[string]string{"heap": "heap-connected.pb.gz",
			"heap?debug=1": "heap-connected.txt", "goroutine?debug=1": "goroutines-connected.txt"} {
			if err := saveProfile(ctx, pprofAddr, name, filepath.Join(cfg.Profile, file)); err != nil {
				return nil, err
			}
		}
	}
	fmt.Fprintln(out, header)
	cpu := func() cpuTimes {
		var t cpuTimes
		for _, n := range nodes {
			t.nodes += appnode.CPU(n.Pid())
		}
		t.gen, t.machine = appnode.CPU(os.Getpid()), appnode.MachineCPU()
		return t
	}
	var results []result
	for i, rate := range cfg.Rates {
		if ctx.Err() != nil {
			return results, ctx.Err()
		}
		profiled := make(chan error, 1)
		if cfg.Profile != "" {
			go func() {
				profiled <- saveProfile(ctx, pprofAddr, fmt.Sprintf("profile?seconds=%d", max(1, int(cfg.Duration.Seconds()))),
					filepath.Join(cfg.Profile, fmt.Sprintf("cpu-%.0f.pb.gz", rate)))
			}()
		} else {
			profiled <- nil
		}
		stopGenProfile, err := profileSelf(cfg.Profile, rate)
		if err != nil {
			return results, err
		}
		r := f.run(ctx, int64(i+1), rate, cfg.Duration, cfg.Drain, cpu)
		stopGenProfile()
		if err := <-profiled; err != nil {
			return results, err
		}
		results = append(results, r)
		fmt.Fprintln(out, r.row(cfg.Label, cfg.Nodes, cfg.Clients, cfg.P99))
	}
	best := -1.0
	for _, r := range results {
		if r.ok(cfg.P99) && r.Rate > best {
			best = r.Rate
		}
	}
	if best > 0 {
		fmt.Fprintf(out, "\nhighest rate within p99 ≤ %v and no errors: %.0f sends/s\n", cfg.P99, best)
	} else {
		fmt.Fprintf(out, "\nno rate met p99 ≤ %v with no errors\n", cfg.P99)
	}
	// What the store took, whatever the latency: each acknowledged send
	// is stored first.
	stored := 0.0
	for _, r := range results {
		stored = max(stored, float64(r.Acked)/r.Elapsed.Seconds())
	}
	fmt.Fprintf(out, "highest stored send rate (acknowledged, any latency): %.0f sends/s\n", stored)
	return results, nil
}
