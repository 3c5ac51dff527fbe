package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/strata-go/strata/app/api"
	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/app/web"
	"github.com/strata-go/strata/ephemeral"
	"github.com/strata-go/strata/internal/redisurl"
	"github.com/strata-go/strata/migrate"
	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/pubsub/busurl"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"

	_ "github.com/strata-go/strata/adapters/cache"
	_ "github.com/strata-go/strata/adapters/memory"
	_ "github.com/strata-go/strata/adapters/redis"
	_ "github.com/strata-go/strata/adapters/riak"
	_ "github.com/strata-go/strata/adapters/sqlstore"
)

// shutdownTimeout bounds a graceful shutdown.
const shutdownTimeout = 10 * time.Second

// run serves the chat until ctx ends, printing where to open it to out.
func run(ctx context.Context, cfg config, out io.Writer) (err error) {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	limits, err := openLimits(cfg.Bus)
	if err != nil {
		return err
	}
	defer limits.Close()
	// A node that loses its id lease stops (see leaseNode), and run
	// returns why.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	defer func() {
		if cause := context.Cause(ctx); errors.Is(cause, errLeaseLost) {
			err = cause
		}
	}()
	var leased repo.IDSource // nil: the repo's own generator for cfg.Node
	if cfg.Node < 0 {
		if _, shared := limits.(closing); shared {
			ids, release, err := leaseNode(ctx, limits, log, nodeLeaseTTL, stop)
			if err != nil {
				return err
			}
			defer release()
			cfg.Node, leased = ids.node, ids
		} else {
			// One node (an in-process bus), or nodes that share no
			// Redis: give each its -node.
			cfg.Node = rand.IntN(maxNodes)
		}
	}
	r, err := openStore(ctx, cfg, log, leased)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := migrateUp(ctx, r, log); err != nil {
		return err
	}
	svc := chat.New(r, chat.Options{})
	defer svc.Close()
	var bus pubsub.Bus // nil: the API's in-process bus
	if cfg.Bus != "" {
		if bus, err = busurl.Open(ctx, cfg.Bus); err != nil {
			return err
		}
		defer bus.Close()
	}
	srv, err := api.New(svc, api.Options{Bus: bus, Limits: limits, Logger: log, Node: fmt.Sprintf("node-%d", cfg.Node),
		PresenceBeat: cfg.PresenceBeat, UserRate: cfg.UserRate, AppRate: cfg.AppRate})
	if err != nil {
		return err
	}
	defer srv.Close()
	e := srv.Echo()
	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", func(c echo.Context) error {
		var a chat.App
		if err := r.Get(c.Request().Context(), &a, "pk_readyz"); err != nil && !errors.Is(err, repo.ErrNotFound) {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"error": "store unreachable"})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
	if cfg.MetricsAddr == "" {
		e.GET("/metrics", echo.WrapHandler(promhttp.Handler()))
	} else {
		stopMetrics, err := serveMetrics(cfg.MetricsAddr, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	web.MountWidget(e, cfg.Nodes)
	if cfg.Demo {
		if err := web.Mount(ctx, e, svc); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "Strata chat (node %d) on %s, store %s\n", cfg.Node, base, redactURL(cfg.Store))
	if cfg.Demo {
		fmt.Fprintf(out, "Open %s/demo in two browser tabs to chat.\n", base)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: clients are told to reconnect elsewhere")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown: WebSocket clients still connected", "error", err)
	}
	if err := hs.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// openStore opens the configured store (making the data directory of
// the default SQLite file), or a router over the AP and CP stores.
func openStore(ctx context.Context, cfg config, log *slog.Logger, ids repo.IDSource) (*repo.Repo, error) {
	opts := []repo.Option{repo.WithNode(max(cfg.Node, 0)), repo.WithLogger(log)}
	if ids != nil {
		opts = append(opts, repo.WithIDSource(ids))
	}
	def := cfg.Store
	if cfg.StoreAP != "" && cfg.StoreCP != "" {
		def = "" // every schema is AP or CP
	}
	if strings.HasPrefix(def, "sqlite://") {
		if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
			return nil, err
		}
	}
	if cfg.StoreAP == "" && cfg.StoreCP == "" {
		return repo.Open(ctx, cfg.Store, opts...)
	}
	or := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	return repo.OpenRouter(ctx, repo.RouteURLs{AP: or(cfg.StoreAP, def), CP: or(cfg.StoreCP, def), Default: def}, opts...)
}

// serveMetrics serves /metrics, and the runtime's profiles under
// /debug/pprof/, on a listener of their own (an operator's, never the
// public one), until stop.
func serveMetrics(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.Handler())
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", "error", err)
		}
	}()
	return func() { hs.Close(); <-done }, nil
}

// openLimits returns where the rate limits count: in Redis when the bus
// is Redis (so that every node counts against one limit), else in this
// process.
func openLimits(busURL string) (ephemeral.Cache, error) {
	scheme, _, _ := strings.Cut(busURL, "://")
	if slices.Contains(redisurl.Schemes, scheme) {
		rdb, err := redisurl.Parse(busURL)
		if err != nil {
			return nil, err
		}
		c, err := ephemeral.NewRedis(rdb, ephemeral.RedisOptions{Prefix: "strata:chat:"})
		if err != nil {
			rdb.Close()
			return nil, err
		}
		return closing{c, rdb.Close}, nil
	}
	return ephemeral.NewLocal(ephemeral.LocalOptions{})
}

// closing is a cache that closes its client with it.
type closing struct {
	ephemeral.Cache
	closeClient func() error
}

func (c closing) Close() error { return errors.Join(c.Cache.Close(), c.closeClient()) }

// migrateUp applies the chat's migrations, under the store's lock where
// it has one.
func migrateUp(ctx context.Context, r *repo.Repo, log *slog.Logger) error {
	var opts []migrate.Option
	if _, ok := driver.Find[driver.Locker](r.Driver()); !ok {
		log.Warn("the store cannot lock: migrating without a lock (start one node first)")
		opts = append(opts, migrate.WithoutLock())
	}
	m, err := migrate.New(r, chat.Migrations(), opts...)
	if err != nil {
		return err
	}
	_, err = m.Up(ctx)
	return err
}

// redactURL hides a URL's password for printing.
func redactURL(s string) string {
	if i := strings.Index(s, "@"); i > 0 {
		if j := strings.Index(s, "://"); j > 0 && j < i {
			return s[:j+3] + "…" + s[i:]
		}
	}
	return s
}
