package faults

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/adapters/riak/riaktest"
	"github.com/strata-go/strata/app/internal/appnode"
	"github.com/strata-go/strata/internal/testservers"
)

// PostgreSQL, holding the chat's store, is stopped and started again on
// the same port and data directory under load (a fast shutdown, or an
// immediate one as in a crash). Sends meanwhile are answered 5xx or wait,
// and the clients resend them; no acknowledged message is lost or
// doubled, and every client gets every one.
func TestRestartPostgres(t *testing.T) {
	skipShort(t)
	for _, tc := range []struct {
		name string
		how  PostgresStop
		bus  string // "postgres": LISTEN/NOTIFY on the same server; "redis": the shared Redis
	}{
		{"bus=postgres/fast", PostgresFast, "postgres"},
		{"bus=redis/immediate", PostgresImmediate, "redis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := ""
			if tc.bus == "redis" {
				bus = testservers.RedisURL(t) // first: it may skip
			}
			pg := StartPostgres(t)
			if bus == "" {
				bus = pg.URL()
			}
			runScenario(t, scenario{store: pg.URL(), bus: bus, gapFree: true,
				inject: func(t *testing.T, r *run, _ int) {
					require.NoError(t, pg.Stop(tc.how))
					sleep(t, r.l.down)
					require.NoError(t, pg.Start(t.Context()))
				}, effect: delayedAcks})
		})
	}
}

// delayedAcks asserts that sends waited for the server that was down:
// the slowest acknowledgement took at least half the time it was down.
func delayedAcks(t *testing.T, r *run, rep *Report) {
	require.GreaterOrEqual(t, rep.AckMax, r.l.down/2, "sends waited while the server was down")
}

// A Redis server holding the store and the bus (and the rate limits and
// node leases), or only the bus, is stopped (SIGKILL, or SHUTDOWN
// NOSAVE) and started again on the same port. What it acknowledged is in
// its append-only file; what the bus lost the nodes catch up with.
func TestRestartRedis(t *testing.T) {
	skipShort(t)
	for _, tc := range []struct {
		name  string
		how   RedisStop
		store bool // the store on the private Redis too (else the shared PostgreSQL)
	}{
		{"store+bus/kill", RedisKill, true},
		{"bus/shutdown", RedisShutdown, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := ""
			if !tc.store {
				store = testservers.PostgresSchema(t) // first: it may skip
			}
			rd := StartRedis(t)
			if store == "" {
				store = rd.URL()
			}
			runScenario(t, scenario{store: store, bus: rd.URL(), gapFree: true,
				inject: func(t *testing.T, r *run, _ int) {
					require.NoError(t, rd.Stop(t.Context(), tc.how))
					sleep(t, r.l.down)
					require.NoError(t, rd.Start(t.Context()))
				}, effect: delayedAcks})
		})
	}
}

// A master of a private Redis Cluster holding the store and the bus is
// killed; its replica takes over, and the old master, started again,
// rejoins as a replica. Writes wait for a replica (replicas=1), so an
// acknowledged message survives the failover.
func TestRedisClusterFailover(t *testing.T) {
	skipShort(t)
	cluster := testservers.StartRedisCluster(t)
	store := cluster.URL() + "?replicas=1&replica_timeout=500ms"
	runScenario(t, scenario{store: store, bus: cluster.URL(), gapFree: false,
		inject: func(t *testing.T, r *run, cycle int) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			masters, err := cluster.Masters(ctx)
			require.NoError(t, err)
			require.Len(t, masters, 3)
			victim := masters[cycle%len(masters)]
			require.NoError(t, cluster.Kill(victim))
			killed := time.Now()
			require.Eventually(t, func() bool {
				now, err := cluster.Masters(ctx)
				return err == nil && len(now) == 3 && !slices.Contains(now, victim)
			}, 30*time.Second, 100*time.Millisecond, "a replica of %s takes over", victim)
			t.Logf("master %s killed; a replica took over in %v", victim, time.Since(killed).Round(time.Millisecond))
			require.NoError(t, cluster.WaitHealthy(ctx))
			require.NoError(t, cluster.Restart(ctx, victim))
			require.NoError(t, cluster.WaitHealthy(ctx))
		},
		effect: func(t *testing.T, r *run, rep *Report) {
			require.GreaterOrEqual(t, rep.AckMax, time.Second, "sends to the killed master waited for the failover")
		}})
}

// The nodes of a riaktest cluster holding the store are partitioned (one
// node alone, the others together) under load, then healed; the
// emulator's Converge then does what Riak's hinted handoff and
// anti-entropy do by themselves. Writes go on on both sides (sloppy
// quorum); the bus (a private Redis) carries the live messages across.
func TestRiakPartition(t *testing.T) {
	skipShort(t)
	rd := StartRedis(t)
	rk := riaktest.Start(t, riaktest.Options{Nodes: 3})
	runScenario(t, scenario{store: "riak://" + strings.Join(rk.Addrs(), ","), bus: rd.URL(), gapFree: false,
		inject: func(t *testing.T, r *run, cycle int) {
			alone := cycle % 3
			var rest []int
			for i := range 3 {
				if i != alone {
					rest = append(rest, i)
				}
			}
			rk.Partition([]int{alone}, rest)
			sleep(t, r.l.down)
			rk.Heal()
			rk.Converge()
		},
		effect: func(t *testing.T, r *run, rep *Report) {
			for _, w := range r.windows {
				require.Positive(t, r.fl.h.AckedBetween(w.from, w.to), "the chat took messages during the partition (sloppy quorum)")
			}
		}})
}

// riakStore starts riaktest's emulated cluster of three nodes for t as
// a process of its own (cmd/riaktest, built without the race detector,
// as a real Riak is apart from the test), and returns its URL.
func riakStore(t *testing.T) string {
	bin, err := bins.Riaktest()
	require.NoError(t, err)
	r, err := appnode.StartRiaktest(bin, 3)
	require.NoError(t, err)
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() && r.Logs.Len() > 0 {
			t.Logf("riaktest:\n%s", r.Logs)
		}
	})
	return r.URL
}

// An app node is killed (SIGKILL) under load and started again on the
// same address. Its clients fail over to the others and resume from
// their positions: they have every message acknowledged before the kill
// within a second at p99, measured from the kill, are live again, and in
// the end have every message, once. In the "hang" case the node is
// stopped (SIGSTOP) for a while before it is killed, as a node that
// hangs and then dies: its clients then lack the messages the other
// nodes acknowledged meanwhile, which the catch-up must bring.
func TestKillAppNode(t *testing.T) {
	skipShort(t)
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) string
		gap   bool
		hang  time.Duration
	}{
		{"store=postgres", func(t *testing.T) string { return testservers.PostgresSchema(t) }, true, 0},
		{"store=postgres/hang", func(t *testing.T) string { return testservers.PostgresSchema(t) }, true, 300 * time.Millisecond},
		{"store=riak", riakStore, false, 0},
		{"store=riak/hang", riakStore, false, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := testservers.RedisURL(t)
			out := runScenario(t, scenario{store: tc.store(t), bus: bus, gapFree: tc.gap,
				inject: func(t *testing.T, r *run, cycle int) {
					victim := r.ch.nodes[(cycle+1)%len(r.ch.nodes)]
					k := kill{node: victim.base()}
					for _, m := range r.fl.members {
						if m.c.Stats().Node == victim.base() {
							k.clients = append(k.clients, m.name)
						}
					}
					if tc.hang > 0 {
						require.NoError(t, syscall.Kill(victim.n.Pid(), syscall.SIGSTOP))
						sleep(t, tc.hang)
					}
					k.at = time.Now()
					victim.kill()
					r.kills = append(r.kills, k)
					victim.start()
				},
				effect: func(t *testing.T, r *run, rep *Report) {
					moved := 0
					for _, k := range r.kills {
						moved += len(k.clients)
					}
					require.GreaterOrEqual(t, rep.Reconnects, moved, "the killed nodes' clients reconnected")
				}})
			require.Len(t, out.run.kills, out.faults)
			for _, k := range out.run.kills {
				require.NotEmpty(t, k.clients, "the node killed at %s had clients", k.at.Format(time.StampMilli))
			}
			if tc.hang > 0 {
				require.Positive(t, measureCatchUp(out.run).lagging, "the hung node's clients lacked messages at the kill")
			}
		})
	}
}
