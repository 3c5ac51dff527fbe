package testservers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// A master is killed; its replica takes over, and the killed node, started
// again, rejoins as a replica.
func TestRedisClusterFailover(t *testing.T) {
	c := StartRedisCluster(t)
	addrs := c.Addrs()
	if len(addrs) != 6 {
		t.Fatalf("Addrs() = %v, want 6 addresses", addrs)
	}
	if want := "redis+cluster://" + strings.Join(addrs, ","); c.URL() != want {
		t.Fatalf("URL() = %q, want %q", c.URL(), want)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	before, err := c.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 3 {
		t.Fatalf("Masters() = %v, want 3", before)
	}

	victim := before[0]
	killed := time.Now()
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(victim); err == nil {
		t.Errorf("Kill(%s) twice: no error", victim)
	}

	// The node timeout is 2s: a replica should take over within a few.
	ctx, cancel = context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	var after []string
	err = poll(ctx, func() error {
		after, err = c.Masters(ctx)
		if err != nil {
			return err
		}
		if len(after) != 3 || slices.Equal(after, before) {
			return fmt.Errorf("masters %v", after)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("no failover of %s (masters were %v): %v", victim, before, err)
	}
	if slices.Contains(after, victim) {
		t.Fatalf("Masters() = %v, includes the killed %s", after, victim)
	}
	t.Logf("masters %v -> %v in %v", before, after, time.Since(killed).Round(time.Millisecond))

	ctx, cancel = context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatalf("WaitHealthy with %s down: %v", victim, err)
	}
	restarted := time.Now()
	if err := c.Restart(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx, victim); err == nil {
		t.Errorf("Restart(%s) while running: no error", victim)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatalf("WaitHealthy after restarting %s: %v", victim, err)
	}
	t.Logf("%s restarted, cluster healthy in %v", victim, time.Since(restarted).Round(time.Millisecond))

	role, err := redisRole(ctx, victim)
	if err != nil {
		t.Fatal(err)
	}
	if role != "slave" {
		t.Fatalf("%s restarted as %s, want a replica", victim, role)
	}
	masters, err := c.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(masters, after) {
		t.Fatalf("Masters() = %v after the restart, want %v", masters, after)
	}
}

// Without redis-server and redis-cli, StartRedisCluster skips the test, or
// fails it when servers are required.
func TestStartRedisClusterWithoutRedis(t *testing.T) {
	for _, require := range []string{"", "1"} {
		t.Run("require="+require, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			t.Setenv(RequireEnv, require)
			f, _ := run(func(tb testing.TB) string {
				StartRedisCluster(tb)
				return ""
			})
			if f.skipped != (require == "") || f.failed != (require == "1") {
				t.Fatalf("skipped=%v failed=%v (%q)", f.skipped, f.failed, f.msg)
			}
			if !strings.Contains(f.msg, "redis-server and redis-cli not on PATH") {
				t.Fatalf("message %q does not name redis-server and redis-cli", f.msg)
			}
		})
	}
}
