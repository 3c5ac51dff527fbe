package testservers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Settings of a private cluster, as scripts/servers.sh starts the shared one.
const (
	clusterNodes     = 6 // 3 masters, a replica each
	clusterMasters   = 3
	clusterReady     = 60 * time.Second // creating the cluster and waiting for it
	clusterPoll      = 100 * time.Millisecond
	redisOpTimeout   = 5 * time.Second // one command to one node
	redisStopTimeout = 10 * time.Second
	clusterAttempts  = 3 // tries with fresh ports when a node fails to start
	logTailLines     = 20
)

// RedisCluster is a private Redis Cluster of 3 masters with a replica each,
// started for one test.
//
// Unlike the shared cluster of [RedisClusterURL], it belongs to the test
// that started it, which may stop and start its nodes (to test a failover)
// without disturbing other tests. Its nodes keep nothing on disk but their
// cluster configuration, and are killed when the test ends.
type RedisCluster struct {
	server string // path of redis-server
	dir    string // the test's temporary directory

	mu    sync.Mutex
	nodes []*redisNode
}

// redisNode is one redis-server of a RedisCluster.
type redisNode struct {
	addr string // 127.0.0.1:port, for clients
	port int
	bus  int    // cluster bus port
	dir  string // working directory: the cluster config file, RDB files, log
	conf string // cluster config file
	log  string // stdout and stderr of every run

	proc *Process // the last run; nil before the first; guarded by RedisCluster.mu
}

// StartRedisCluster starts six redis-server processes on free loopback ports
// in t.TempDir(), creates the cluster with `redis-cli --cluster create ...
// --cluster-replicas 1 --cluster-yes`, and waits (60s at most) until it is
// ready: every node reports cluster_state:ok with all 16384 slots, six known
// nodes and three masters serving slots, the nodes agree about which master
// serves which slots, and every replica's link to its master is up. It
// registers a cleanup with t that kills every process it started, even when
// starting fails half-way.
//
// Without redis-server or redis-cli on PATH, it skips t (fails t when
// servers are required, see [Required]).
func StartRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	server, cli := redisTools(t)
	c := &RedisCluster{server: server, dir: t.TempDir()}
	// Registered after TempDir's own cleanup, so it runs before the
	// directory is removed.
	t.Cleanup(func() { c.cleanup(t) })

	ctx, cancel := context.WithTimeout(t.Context(), clusterReady)
	defer cancel()
	start := time.Now()
	var err error
	for attempt := 1; attempt <= clusterAttempts; attempt++ {
		// A free port may be taken by someone else before a node binds
		// it: then start over with other ports.
		if err = c.startNodes(ctx); err == nil || ctx.Err() != nil {
			break
		}
		t.Logf("redis cluster: attempt %d: %v", attempt, err)
		c.killAll()
	}
	if err != nil {
		t.Fatalf("redis cluster: start the nodes: %v", err)
	}

	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Dir = c.dir
	cmd.WaitDelay = time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("redis cluster: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if err := poll(ctx, func() error { return c.check(ctx, true) }); err != nil {
		t.Fatalf("redis cluster: not ready within %v: %v", clusterReady, err)
	}
	t.Logf("redis cluster: %s ready in %v", c.URL(), time.Since(start).Round(time.Millisecond))
	return c
}

// redisTools returns the paths of redis-server and redis-cli, or skips t
// (fails t when servers are required) when one is not on PATH.
func redisTools(t testing.TB) (server, cli string) {
	t.Helper()
	var missing []string
	server, err := exec.LookPath("redis-server")
	if err != nil {
		missing = append(missing, "redis-server")
	}
	cli, err = exec.LookPath("redis-cli")
	if err != nil {
		missing = append(missing, "redis-cli")
	}
	if len(missing) == 0 {
		return server, cli
	}
	msg := strings.Join(missing, " and ") + " not on PATH: no private Redis Cluster for this test"
	if Required() {
		t.Fatal(msg + "; " + RequireEnv + "=1 makes that a failure")
	}
	t.Skip(msg)
	return "", ""
}

// Addrs returns the client addresses ("127.0.0.1:port") of all six nodes,
// whether running or not.
func (c *RedisCluster) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.addr
	}
	return addrs
}

// URL returns the cluster's URL, "redis+cluster://addr1,addr2,...", naming
// all six nodes, as [RedisClusterURL] does for the shared cluster.
func (c *RedisCluster) URL() string {
	return "redis+cluster://" + strings.Join(c.Addrs(), ",")
}

// Masters returns the addresses of the running nodes that are masters now,
// as they say themselves (ROLE), in the order of [RedisCluster.Addrs]. A
// node that has been killed is left out; one that is running but does not
// answer is an error.
func (c *RedisCluster) Masters(ctx context.Context) ([]string, error) {
	var masters []string
	for _, n := range c.running() {
		role, err := redisRole(ctx, n.addr)
		if err != nil {
			return nil, err
		}
		if role == "master" {
			masters = append(masters, n.addr)
		}
	}
	return masters, nil
}

// Kill sends SIGKILL to the node at addr and waits for its process to exit.
// It is an error if the node is not running.
func (c *RedisCluster) Kill(addr string) error {
	n, err := c.node(addr)
	if err != nil {
		return err
	}
	c.mu.Lock()
	p := n.proc
	c.mu.Unlock()
	if !p.Running() {
		return fmt.Errorf("redis cluster: kill %s: not running", addr)
	}
	if err := p.Stop(syscall.SIGKILL, redisStopTimeout); err != nil {
		return fmt.Errorf("redis cluster: kill %s: %w", addr, err)
	}
	return nil
}

// Restart starts the node at addr again, after [RedisCluster.Kill], with the
// same port, bus port, working directory and cluster config file, so that it
// rejoins the cluster (as a replica if its replica took over as master), and
// waits until it answers PING or ctx ends. It is an error if the node is
// running.
func (c *RedisCluster) Restart(ctx context.Context, addr string) error {
	n, err := c.node(addr)
	if err != nil {
		return err
	}
	p, err := c.start(n)
	if err != nil {
		return err
	}
	return waitPing(ctx, n, p)
}

// WaitHealthy waits until the cluster is ready again, or ctx ends: every
// running node reports cluster_state:ok with all 16384 slots, six known
// nodes and three masters serving slots, the running nodes agree about which
// master serves which slots and none of them sees another running node as
// failing, three running nodes are masters, and each running replica's link
// to its master is up. Killed nodes are not asked.
func (c *RedisCluster) WaitHealthy(ctx context.Context) error {
	return poll(ctx, func() error { return c.check(ctx, false) })
}

// node returns the node at addr.
func (c *RedisCluster) node(addr string) (*redisNode, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.addr == addr {
			return n, nil
		}
	}
	return nil, fmt.Errorf("redis cluster: no node %s", addr)
}

// running returns the nodes whose process is running, in order.
func (c *RedisCluster) running() []*redisNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	var nodes []*redisNode
	for _, n := range c.nodes {
		if n.proc.Running() {
			nodes = append(nodes, n)
		}
	}
	return nodes
}

// startNodes picks 12 free ports and starts six nodes on them, then waits
// until each answers PING.
func (c *RedisCluster) startNodes(ctx context.Context) error {
	ports, err := freePorts(2 * clusterNodes)
	if err != nil {
		return err
	}
	nodes := make([]*redisNode, clusterNodes)
	for i := range nodes {
		port, bus := ports[i], ports[clusterNodes+i]
		dir := filepath.Join(c.dir, strconv.Itoa(port))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		nodes[i] = &redisNode{
			addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			port: port,
			bus:  bus,
			dir:  dir,
			conf: filepath.Join(dir, "nodes-"+strconv.Itoa(port)+".conf"),
			log:  filepath.Join(dir, "redis.log"),
		}
	}
	c.mu.Lock()
	c.nodes = nodes
	c.mu.Unlock()
	procs := make([]*Process, len(nodes))
	for i, n := range nodes {
		if procs[i], err = c.start(n); err != nil {
			return err
		}
	}
	for i, n := range nodes {
		if err := waitPing(ctx, n, procs[i]); err != nil {
			return err
		}
	}
	return nil
}

// start starts n's redis-server, unless it is running, with the settings of
// scripts/servers.sh.
func (c *RedisCluster) start(n *redisNode) (*Process, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.proc.Running() {
		return nil, fmt.Errorf("redis cluster: start %s: already running", n.addr)
	}
	// No config file: the distro's /etc/redis stays out. The replicas sync
	// at once (no diskless-sync delay, 5s by default).
	p, err := Spawn(n.log, n.dir, nil, c.server,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(n.port),
		"--dir", n.dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--supervised", "no", "--logfile", "",
		"--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(n.bus),
		"--cluster-config-file", n.conf,
		"--cluster-node-timeout", "2000", "--repl-diskless-sync-delay", "0")
	if err != nil {
		return nil, fmt.Errorf("redis cluster: %s: %w", n.addr, err)
	}
	n.proc = p
	return p, nil
}

// killAll kills every running node.
func (c *RedisCluster) killAll() []error {
	c.mu.Lock()
	var procs []*Process
	for _, n := range c.nodes {
		if n.proc.Running() {
			procs = append(procs, n.proc)
		}
	}
	c.mu.Unlock()
	var errs []error
	for _, p := range procs {
		if err := p.Stop(syscall.SIGKILL, redisStopTimeout); err != nil {
			errs = append(errs, fmt.Errorf("redis cluster: %w", err))
		}
	}
	return errs
}

// cleanup kills every node; when the test failed, it logs the end of each
// node's log.
func (c *RedisCluster) cleanup(t testing.TB) {
	for _, err := range c.killAll() {
		t.Errorf("%v", err)
	}
	if !t.Failed() {
		return
	}
	c.mu.Lock()
	nodes := slices.Clone(c.nodes)
	c.mu.Unlock()
	for _, n := range nodes {
		t.Logf("redis cluster: the end of %s's log (%s):\n%s", n.addr, n.log, LogTail(n.log, logTailLines))
	}
}

// waitPing waits until n answers PING, p exits (an error, with the end of
// its log) or ctx ends.
func waitPing(ctx context.Context, n *redisNode, p *Process) error {
	return poll(ctx, func() error {
		select {
		case <-p.Done():
			return stop{fmt.Errorf("redis cluster: %s exited (%v):\n%s", n.addr, p.Err(), LogTail(n.log, logTailLines))}
		default:
		}
		reply, err := redisDo(ctx, n.addr, "PING")
		if err != nil {
			return err
		}
		if reply != "PONG" {
			return fmt.Errorf("%s: PING answered %q", n.addr, reply)
		}
		return nil
	})
}

// stop is an error that ends a poll at once.
type stop struct{ error }

// poll calls f every clusterPoll until it returns nil or a stop error, or
// ctx ends; then it returns ctx's error and f's last one.
func poll(ctx context.Context, f func() error) error {
	tick := time.NewTicker(clusterPoll)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		if s, ok := err.(stop); ok {
			return s.error
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment
// ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		// Held open until all are chosen, so that none comes twice.
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// check reports why the cluster is not ready, or nil. With all, every node
// must run, and three be replicas (as at start); otherwise only the running
// nodes are asked.
func (c *RedisCluster) check(ctx context.Context, all bool) error {
	nodes := c.running()
	if all && len(nodes) != clusterNodes {
		return fmt.Errorf("%d of %d nodes running", len(nodes), clusterNodes)
	}
	var (
		masters, replicas int
		slotMap           string // the slots each master serves, as the first node sees it
		ids               = make(map[string]string, len(nodes))
		views             = make(map[string][]clusterNode, len(nodes))
	)
	for _, n := range nodes {
		info, err := redisInfo(ctx, n.addr, "CLUSTER", "INFO")
		if err != nil {
			return err
		}
		for field, want := range map[string]string{
			"cluster_state":       "ok",
			"cluster_slots_ok":    "16384",
			"cluster_known_nodes": strconv.Itoa(clusterNodes),
			"cluster_size":        strconv.Itoa(clusterMasters),
		} {
			if info[field] != want {
				return fmt.Errorf("%s: %s:%s, want %s", n.addr, field, info[field], want)
			}
		}
		repl, err := redisInfo(ctx, n.addr, "INFO", "replication")
		if err != nil {
			return err
		}
		switch repl["role"] {
		case "master":
			masters++
		case "slave":
			if repl["master_link_status"] != "up" {
				return fmt.Errorf("%s: replica of %s:%s, master_link_status:%s", n.addr, repl["master_host"], repl["master_port"], repl["master_link_status"])
			}
			replicas++
		default:
			return fmt.Errorf("%s: role:%s", n.addr, repl["role"])
		}
		view, err := clusterNodesOf(ctx, n.addr)
		if err != nil {
			return err
		}
		for _, cn := range view {
			if cn.myself {
				ids[cn.id] = n.addr
			}
		}
		views[n.addr] = view
		if m := slotMapOf(view); slotMap == "" {
			slotMap = m
		} else if m != slotMap {
			return fmt.Errorf("%s disagrees with %s about the slots:\n%s\nvs\n%s", n.addr, nodes[0].addr, m, slotMap)
		}
	}
	if masters != clusterMasters {
		return fmt.Errorf("%d running masters, want %d", masters, clusterMasters)
	}
	if all && replicas != clusterNodes-clusterMasters {
		return fmt.Errorf("%d replicas, want %d", replicas, clusterNodes-clusterMasters)
	}
	for addr, view := range views {
		for _, cn := range view {
			if other, ok := ids[cn.id]; ok && (strings.Contains(cn.flags, "fail") || strings.Contains(cn.flags, "handshake")) {
				return fmt.Errorf("%s sees %s (running) as %s", addr, other, cn.flags)
			}
		}
	}
	return nil
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, flags string
	myself    bool
	slots     []string // ranges served, without the importing/migrating ones
}

// clusterNodesOf asks the node at addr for CLUSTER NODES.
func clusterNodesOf(ctx context.Context, addr string) ([]clusterNode, error) {
	reply, err := redisDo(ctx, addr, "CLUSTER", "NODES")
	if err != nil {
		return nil, err
	}
	s, ok := reply.(string)
	if !ok {
		return nil, fmt.Errorf("%s: CLUSTER NODES answered %T", addr, reply)
	}
	var nodes []clusterNode
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		cn := clusterNode{id: f[0], flags: f[2]}
		cn.myself = slices.Contains(strings.Split(f[2], ","), "myself")
		for _, slot := range f[8:] {
			if !strings.HasPrefix(slot, "[") {
				cn.slots = append(cn.slots, slot)
			}
		}
		nodes = append(nodes, cn)
	}
	return nodes, nil
}

// slotMapOf sums up which node serves which slots.
func slotMapOf(nodes []clusterNode) string {
	var lines []string
	for _, cn := range nodes {
		if len(cn.slots) > 0 {
			lines = append(lines, cn.id+" "+strings.Join(cn.slots, " "))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// redisRole returns the role of the node at addr: master, slave or sentinel.
func redisRole(ctx context.Context, addr string) (string, error) {
	reply, err := redisDo(ctx, addr, "ROLE")
	if err != nil {
		return "", err
	}
	if a, ok := reply.([]any); ok && len(a) > 0 {
		if role, ok := a[0].(string); ok {
			return role, nil
		}
	}
	return "", fmt.Errorf("%s: ROLE answered %v", addr, reply)
}

// redisInfo sends a command answered in INFO's format (field:value lines),
// such as INFO or CLUSTER INFO, and returns the fields.
func redisInfo(ctx context.Context, addr string, args ...string) (map[string]string, error) {
	reply, err := redisDo(ctx, addr, args...)
	if err != nil {
		return nil, err
	}
	s, ok := reply.(string)
	if !ok {
		return nil, fmt.Errorf("%s: %s answered %T", addr, strings.Join(args, " "), reply)
	}
	fields := make(map[string]string)
	for line := range strings.Lines(s) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	return fields, nil
}

// redisError is an error reply.
type redisError string

func (e redisError) Error() string { return string(e) }

// redisDo sends one command to the node at addr on a connection of its own
// and returns the reply: a string (simple or bulk), an int64, a []any, nil,
// or an error (a redisError for an error reply). It takes redisOpTimeout at
// most, less if ctx ends first.
func redisDo(ctx context.Context, addr string, args ...string) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	// Ends a read or write at once when ctx is canceled.
	release := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer release()

	var b []byte
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write(b); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", addr, args[0], err)
	}
	reply, err := readReply(bufio.NewReader(conn), 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", addr, strings.Join(args, " "), err)
	}
	return reply, nil
}

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader, depth int) (any, error) {
	if depth > 8 {
		return nil, errors.New("reply nested too deep")
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return nil, errors.New("empty reply line")
	}
	switch kind, rest := line[0], line[1:]; kind {
	case '+':
		return rest, nil
	case '-':
		return nil, redisError(rest)
	case ':':
		return strconv.ParseInt(rest, 10, 64)
	case '$':
		n, err := strconv.Atoi(rest)
		if err != nil || n > 64<<20 {
			return nil, fmt.Errorf("bad bulk length %q", rest)
		}
		if n < 0 {
			return nil, nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return string(b[:n]), nil
	case '*':
		n, err := strconv.Atoi(rest)
		if err != nil || n > 1<<20 {
			return nil, fmt.Errorf("bad array length %q", rest)
		}
		if n < 0 {
			return nil, nil
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = readReply(r, depth+1); err != nil {
				return nil, err
			}
		}
		return a, nil
	default:
		return nil, fmt.Errorf("unexpected reply %q", line)
	}
}
