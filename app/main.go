// Command app is Strata's bundled chat server: an embeddable chat on
// Echo whose data lives in a Strata repo on whichever store the
// configuration names. With no configuration it runs on an embedded
// SQLite file and an in-process bus, and serves a demo page:
//
//	go run ./app
//
// Configuration is by flags, environment variables, or a JSON file whose
// keys are the flags' names (-config or STRATA_CHAT_CONFIG); a flag wins
// over the environment, which wins over the file:
//
//	-addr          STRATA_CHAT_ADDR          listen address (127.0.0.1:8080)
//	-metrics-addr  STRATA_CHAT_METRICS_ADDR  listen address of /metrics and /debug/pprof/
//	                                         (default: /metrics on -addr, no profiles)
//	-data          STRATA_CHAT_DATA          data directory of the default SQLite store (./chat-data)
//	-store         STRATA_CHAT_STORE         store URL (sqlite://DATA/chat.db); any Strata URL:
//	                                         postgres://…, mysql://…, redis://…, redis+cluster://…,
//	                                         riak://…, and cache+… in front of any of them
//	-store-ap      STRATA_CHAT_STORE_AP      store of the AP schemas, the messages (default: -store)
//	-store-cp      STRATA_CHAT_STORE_CP      store of the CP schemas, the rest (default: -store)
//	-bus           STRATA_CHAT_BUS           bus between app nodes: "" (in process), redis://… or postgres://…
//	-node          STRATA_CHAT_NODE          this node's id, 0–1023, for message ids (default:
//	                                         leased in Redis when the bus is Redis, else random)
//	-nodes         STRATA_CHAT_NODES         the nodes' public URLs, comma-separated, which the
//	                                         widget measures and fails over between (/v1/nodes)
//	-demo          STRATA_CHAT_DEMO          serve the demo page and its token endpoint (true)
//	-presence-beat STRATA_CHAT_PRESENCE_BEAT how often a node announces who is connected
//	                                         through it (5s; a dead node's users drop after three)
//	-user-rate     STRATA_CHAT_USER_RATE     sends per user and conversation per 10 s (20)
//	-app-rate      STRATA_CHAT_APP_RATE      sends per app per 10 s (2000)
//
// With -store-ap or -store-cp the app runs on a repo.Router: for
// instance its messages on Riak and its apps, keys, users and bans on
// PostgreSQL.
//
// Migrations run at start, under the store's migration lock. After the
// flags, a command administers the store instead of serving:
//
//	go run ./app migrate
//	go run ./app app create "Acme"          # prints the app's key and secret
//	go run ./app app keys APP
//	go run ./app app key add APP
//	go run ./app app key disable APP KEYID
//	go run ./app app key enable APP KEYID
//
// With the bus on Redis, the rate limits are counted in Redis, one limit
// for all nodes; otherwise each node counts its own.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, args, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(2)
	}
	if len(args) > 0 {
		err = admin(ctx, cfg, args, os.Stdout)
	} else {
		err = run(ctx, cfg, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
}
