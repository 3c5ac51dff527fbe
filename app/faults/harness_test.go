package faults

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/app/internal/appnode"
	"github.com/strata-go/strata/app/internal/chatclient"
	"github.com/strata-go/strata/internal/testservers"
)

// bins holds the app's and riaktest's binaries, built once per test run
// (TestMain removes them).
var bins = appnode.NewBinaries("strata-faults-")

// summaries are the tests' summary lines, printed again at the end.
var summaries struct {
	sync.Mutex
	lines []string
}

func TestMain(m *testing.M) {
	code := m.Run()
	bins.Remove()
	if len(summaries.lines) > 0 {
		fmt.Println("fault tests:")
		for _, l := range summaries.lines {
			fmt.Println("  " + l)
		}
	}
	os.Exit(code)
}

// LongEnv set to "long" runs the long versions: more load, several
// faults, 20–30 s each.
const LongEnv = "STRATA_FAULTS"

// load is how hard and how long a fault test drives the chat.
type load struct {
	clients, convs int
	rate           float64       // sends per second, all clients together
	cycles         int           // faults injected, one after the other
	before, after  time.Duration // load before and after each fault
	down           time.Duration // how long a stopped server stays down
	settle         time.Duration // bound of the wait for the last answers and deliveries
}

// long reports whether the long versions run.
func long() bool { return os.Getenv(LongEnv) == "long" }

// skipShort skips a fault test under -short (unless the long versions
// are asked for): it starts servers and the app's nodes as processes.
func skipShort(t *testing.T) {
	if testing.Short() && !long() {
		t.Skip("starts servers and the app's nodes as processes")
	}
}

func loadFor() load {
	if long() {
		return load{clients: 48, convs: 8, rate: 200, cycles: 3, before: 4 * time.Second, after: 3 * time.Second,
			down: 2 * time.Second, settle: 30 * time.Second}
	}
	return load{clients: 12, convs: 3, rate: 60, cycles: 1, before: time.Second, after: time.Second,
		down: time.Second, settle: 20 * time.Second}
}

// The app's rate limits are lifted: the load must not be refused by them.
var nodeFlags = []string{"-demo=false", "-user-rate", "1000000000", "-app-rate", "1000000000"}

// node is an app node run as a process, restarted on the same address.
type node struct {
	t    *testing.T
	bin  string
	args []string // all but -addr
	addr string   // host:port, kept across restarts
	n    *appnode.Node
	logs strings.Builder // of the runs that ended
	cpu  time.Duration   // used by the runs that ended
}

func (n *node) start() {
	n.t.Helper()
	an, err := appnode.Start(n.bin, append([]string{"-addr", n.addr}, n.args...)...)
	require.NoError(n.t, err)
	n.n, n.addr = an, an.Addr()
}

// base is the node's URL.
func (n *node) base() string { return "http://" + n.addr }

// kill ends the node at once (SIGKILL): no goodbye to its clients.
func (n *node) kill() {
	if n.n == nil {
		return
	}
	n.cpu += appnode.CPU(n.n.Pid())
	n.n.Kill()
	n.logs.WriteString(n.n.Logs.String()) // the process has exited: its logs are complete
	n.n = nil
}

// chatNodes are the app's nodes of a test, sharing a store and a bus, and
// the app the test's users belong to.
type chatNodes struct {
	t      *testing.T
	nodes  []*node
	app    string
	keyID  string
	secret []byte
}

// startChat creates an app on store and starts count nodes on it.
func startChat(t *testing.T, store, bus string, count int) *chatNodes {
	t.Helper()
	bin, err := bins.App()
	require.NoError(t, err)
	common := append([]string{"-store", store, "-bus", bus}, nodeFlags...)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// Migrates, before the nodes start.
	out, err := exec.CommandContext(ctx, bin, append(append([]string{"-data", t.TempDir()}, common...), "app", "create", "faults")...).CombinedOutput()
	require.NoError(t, err, "app create: %s", out)
	m := regexp.MustCompile(`app (\S+) \(faults\)\nkey (\S+) secret ([0-9a-f]+)`).FindStringSubmatch(string(out))
	require.NotNil(t, m, "app create said %q", out)
	ch := &chatNodes{t: t, app: m[1], keyID: m[2]}
	ch.secret, err = hex.DecodeString(m[3])
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, n := range ch.nodes {
			n.kill()
			if t.Failed() && n.logs.Len() > 0 {
				t.Logf("node %s: the end of its logs:\n%s", n.addr, testservers.LastLines(n.logs.String(), logTail))
			}
		}
	})
	for i := range count {
		// Each its own snowflake node id: no two draw the same ids,
		// whatever the bus.
		n := &node{t: t, bin: bin, addr: "127.0.0.1:0",
			args: append([]string{"-data", t.TempDir(), "-node", strconv.Itoa(i + 1)}, common...)}
		n.start()
		ch.nodes = append(ch.nodes, n)
	}
	return ch
}

// cpu returns the CPU time the nodes have used, in all their runs.
func (ch *chatNodes) cpu() time.Duration {
	var sum time.Duration
	for _, n := range ch.nodes {
		sum += n.cpu
		if n.n != nil {
			sum += appnode.CPU(n.n.Pid())
		}
	}
	return sum
}

func (ch *chatNodes) bases() []string {
	var out []string
	for _, n := range ch.nodes {
		out = append(out, n.base())
	}
	return out
}

// token signs a member's token for user in conv.
func (ch *chatNodes) token(user, conv string) string {
	now := time.Now()
	tok, err := chat.SignToken(&chat.Token{App: ch.app, KeyID: ch.keyID, User: user, Name: "user " + user,
		Conversation: conv, Role: chat.RoleMember, Expires: now.Add(12 * time.Hour)}, ch.secret, now)
	require.NoError(ch.t, err)
	return tok
}

// do makes a request of the API on a running node, retrying a few times
// (a node or store may be recovering), and decodes the answer into v.
func (ch *chatNodes) do(method, path string, auth func(*http.Request), v any) {
	ch.t.Helper()
	var last error
	for try := range 20 {
		if try > 0 {
			time.Sleep(250 * time.Millisecond)
		}
		n := ch.nodes[try%len(ch.nodes)]
		if n.n == nil {
			continue
		}
		req, err := http.NewRequestWithContext(ch.t.Context(), method, n.base()+path, nil)
		require.NoError(ch.t, err)
		auth(req)
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Do(req)
		if err != nil {
			last = err
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", resp.Status, b)
		}
		if err == nil {
			require.NoError(ch.t, json.Unmarshal(b, v), "%s %s: %s", method, path, b)
			return
		}
		last = err
	}
	require.NoError(ch.t, last, "%s %s", method, path)
}

// gapFree asks the chat whether its positions are gap-free.
func (ch *chatNodes) gapFree() bool {
	var j struct {
		GapFree bool `json:"gap_free"`
	}
	tok := ch.token("checker", "c0")
	ch.do(http.MethodPost, "/v1/join", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }, &j)
	return j.GapFree
}

// stored reads back every message of the conversations, with the admin
// API (the app's key), newest first in pages.
func (ch *chatNodes) stored(convs []string) map[string][]chatclient.Message {
	out := map[string][]chatclient.Message{}
	for _, conv := range convs {
		var all []chatclient.Message
		before := ""
		for {
			var page struct {
				Messages []chatclient.Message `json:"messages"`
			}
			q := url.Values{"limit": {strconv.Itoa(chat.MaxHistory)}}
			if before != "" {
				q.Set("before", before)
			}
			ch.do(http.MethodGet, "/v1/admin/conversations/"+conv+"/messages?"+q.Encode(), func(r *http.Request) {
				r.SetBasicAuth(ch.app+"/"+ch.keyID, hex.EncodeToString(ch.secret))
			}, &page)
			all = append(all, page.Messages...)
			if len(page.Messages) < chat.MaxHistory {
				break
			}
			before = page.Messages[len(page.Messages)-1].Pos
		}
		out[conv] = all
	}
	return out
}

// member is one of a fleet's clients: a user in a conversation.
type member struct {
	name, conv string
	c          *chatclient.Client
}

// fleet is a test's clients, spread over the nodes and conversations,
// recording into a History.
type fleet struct {
	t       *testing.T
	h       *History
	members []*member
	convs   []string
	ctx     context.Context
}

// connect starts l.clients clients, client i in conversation i % convs
// and first on node (i / convs) % nodes, so that every conversation has
// members on every node, and waits until all are connected. They run
// until the test ends.
func connect(t *testing.T, ch *chatNodes, l load) *fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	f := &fleet{t: t, h: NewHistory(), ctx: ctx}
	for i := range l.convs {
		f.convs = append(f.convs, fmt.Sprint("c", i))
	}
	bases := ch.bases()
	for i := range l.clients {
		m := &member{name: fmt.Sprint("u", i), conv: f.convs[i%l.convs]}
		f.h.Join(m.name, m.conv)
		m.c = chatclient.New(chatclient.Options{Nodes: bases, Start: i / l.convs, Token: ch.token(m.name, m.conv),
			OnMessage: func(msg chatclient.Message, at time.Time) { f.h.Received(m.name, msg, at) },
			OnAck:     f.h.Acked,
			OnRefused: f.h.Refused,
			Retry:     50 * time.Millisecond,
			MaxRetry:  time.Second,
		})
		f.members = append(f.members, m)
		wg.Go(func() { m.c.Run(ctx) })
	}
	wctx, wcancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer wcancel()
	for _, m := range f.members {
		require.NoError(t, m.c.WaitConnected(wctx), "client %s", m.name)
	}
	return f
}

// warmUp sends a first message in each conversation and waits until
// every client has it: from then on every client has a position, and
// resumes from it when it reconnects.
func (f *fleet) warmUp(timeout time.Duration) {
	f.t.Helper()
	for _, conv := range f.convs {
		for _, m := range f.members {
			if m.conv == conv {
				f.send(m, m.name+"-hello", "hello from "+m.name)
				break
			}
		}
	}
	f.settle(timeout)
}

func (f *fleet) send(m *member, clientID, text string) {
	f.h.Sent(m.name, clientID, text, time.Now())
	m.c.Send(f.ctx, clientID, text)
}

// startLoad makes every client send on a fixed schedule, rate sends per
// second in all, evenly spread, whatever the answers; stop ends it and
// waits for the senders.
func (f *fleet) startLoad(rate float64) (stop func()) {
	period := time.Duration(float64(len(f.members)) / rate * float64(time.Second))
	done := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for i, m := range f.members {
		wg.Go(func() {
			next := start.Add(period * time.Duration(i) / time.Duration(len(f.members)))
			timer := time.NewTimer(time.Until(next))
			defer timer.Stop()
			for k := 0; ; k++ {
				select {
				case <-done:
					return
				case <-timer.C:
				}
				f.send(m, fmt.Sprintf("%s-%d", m.name, k), fmt.Sprintf("message %d of %s", k, m.name))
				next = next.Add(period)
				timer.Reset(time.Until(next))
			}
		})
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
	f.t.Cleanup(stop)
	return stop
}

// settle waits (at most timeout) until every send is answered and every
// client has every acknowledged message of its conversation, then a
// little more for stray deliveries, and records the clients' final
// statistics. It does not fail the test: the checker says what is
// missing.
func (f *fleet) settle(timeout time.Duration) (ok bool, took time.Duration) {
	start := time.Now()
	deadline := start.Add(timeout)
	why := ""
	for {
		ok, why = f.h.Settled()
		outbox := 0
		for _, m := range f.members {
			outbox += m.c.Stats().Outbox
		}
		if ok && outbox > 0 {
			ok, why = false, fmt.Sprintf("%d sends in outboxes", outbox)
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	took = time.Since(start)
	if !ok {
		f.t.Logf("not settled after %v: %s", timeout, why)
	}
	time.Sleep(200 * time.Millisecond) // a late duplicate would show
	for _, m := range f.members {
		f.h.Final(m.name, m.c.Stats())
	}
	return ok, took
}

// sleep waits d, or until the test ends.
func sleep(t *testing.T, d time.Duration) {
	select {
	case <-time.After(d):
	case <-t.Context().Done():
	}
}

// scenario is one fault test: where the chat runs, and the fault.
type scenario struct {
	store, bus string
	gapFree    bool // what the store promises (the chat's /v1/join says the same)
	nodes      int  // app nodes (0: 3)
	// inject injects the fault once (the cycle-th time) and returns
	// once the system may recover (a server is back).
	inject func(t *testing.T, r *run, cycle int)
	// effect, if set, asserts that the faults did what they should to
	// the chat (delayed acknowledgements, moved clients, …): that the
	// test tested something.
	effect func(t *testing.T, r *run, rep *Report)
}

// run is a fault test under way.
type run struct {
	l       load
	ch      *chatNodes
	fl      *fleet
	windows []window // when each fault was injected, to when inject returned
	kills   []kill   // the app nodes killed, for the catch-up measurement
}

// window is a span of time.
type window struct{ from, to time.Time }

// kill is an app node killed, when, and who was connected to it.
type kill struct {
	at      time.Time
	node    string
	clients []string
}

// outcome is what a fault test measured.
type outcome struct {
	report *Report
	faults int
	run    *run
}

// runScenario starts the chat and its clients, loads it, injects the
// fault l.cycles times, settles, checks the history and reports.
func runScenario(t *testing.T, sc scenario) outcome {
	t0 := time.Now()
	l := loadFor()
	if sc.nodes == 0 {
		sc.nodes = 3
	}
	ch := startChat(t, sc.store, sc.bus, sc.nodes)
	require.Equal(t, sc.gapFree, ch.gapFree(), "the store's positions are gap-free (or not) as the test expects")
	fl := connect(t, ch, l)
	fl.warmUp(l.settle)
	t.Logf("%d nodes up, %d clients in %d conversations connected, in %v", sc.nodes, l.clients, l.convs, time.Since(t0).Round(time.Millisecond))
	r := &run{l: l, ch: ch, fl: fl}
	cpu0, self0, machine0 := ch.cpu(), appnode.CPU(os.Getpid()), appnode.MachineCPU()
	stop := fl.startLoad(l.rate)
	loaded := time.Now()
	faults := 0
	for cycle := range l.cycles {
		sleep(t, l.before)
		ft := time.Now()
		sc.inject(t, r, cycle)
		r.windows = append(r.windows, window{ft, time.Now()})
		faults++
		t.Logf("fault %d injected and recovered from in %v", cycle+1, time.Since(ft).Round(time.Millisecond))
		sleep(t, l.after)
	}
	stop()
	sendFor := time.Since(loaded)
	settled, took := fl.settle(l.settle)
	cpu, self, machine := ch.cpu()-cpu0, appnode.CPU(os.Getpid())-self0, appnode.MachineCPU()-machine0
	if testing.Verbose() && long() || !settled {
		t.Logf("timeline (faults at %s):\n%s", r.faultTimes(loaded), strings.Join(fl.h.Timeline(loaded, time.Second), "\n"))
	}
	wall := time.Since(loaded)
	t.Logf("CPU from the load's start to settled: nodes %.2f cores, test process %.2f, the machine %.2f of %d",
		cores(cpu, wall), cores(self, wall), cores(machine, wall), runtime.NumCPU())
	stored := ch.stored(fl.convs)
	rep := Check(fl.h, stored, CheckOptions{GapFree: sc.gapFree})
	t.Logf("sent for %v; settled=%v in %v; %s; faults=%d", sendFor.Round(time.Millisecond), settled, took.Round(time.Millisecond), rep.Summary(), faults)
	line := fmt.Sprintf("%s: %s faults=%d in %v", t.Name(), rep.Summary(), faults, time.Since(t0).Round(100*time.Millisecond))
	var cu *catchUp
	if len(r.kills) > 0 {
		cu = measureCatchUp(r)
		line += " " + cu.String()
	}
	t.Log("summary: " + line)
	summaries.Lock()
	summaries.lines = append(summaries.lines, line)
	summaries.Unlock()
	require.True(t, rep.OK(), "the history has %d violations:\n%s", len(rep.Violations), rep.Error(40))
	require.True(t, settled, "the clients settled")
	require.Equal(t, l.cycles, faults)
	require.Greater(t, rep.Acked, len(fl.convs), "the load was acknowledged")
	if cu != nil {
		cu.check(t)
	}
	if sc.effect != nil {
		sc.effect(t, r, rep)
	}
	return outcome{report: rep, faults: faults, run: r}
}

// faultTimes lists when the faults were injected, from start.
func (r *run) faultTimes(start time.Time) string {
	var out []string
	for _, w := range r.windows {
		out = append(out, fmt.Sprintf("%v–%v", w.from.Sub(start).Round(100*time.Millisecond), w.to.Sub(start).Round(100*time.Millisecond)))
	}
	return strings.Join(out, ", ")
}

// cores is CPU time used over a wall time, in cores.
func cores(cpu, wall time.Duration) float64 { return cpu.Seconds() / wall.Seconds() }

// catchUpTarget is how soon, at p99, the clients of a killed node must
// have every message acknowledged before the kill.
const catchUpTarget = time.Second

// catchUp is how the clients of the killed nodes caught up.
type catchUp struct {
	clients int
	lagging int // messages acknowledged before a kill that its clients lacked at the kill
	// lat: from each kill until each of its clients had every message
	// acknowledged before it; resumed: until each got its first message
	// sent after it (live again).
	lat, resumed        []time.Duration
	missing, notResumed []string
}

func measureCatchUp(r *run) *catchUp {
	cu := &catchUp{}
	for _, k := range r.kills {
		cu.clients += len(k.clients)
		cu.lagging += r.fl.h.Lagging(k.clients, k.at)
		lat, missing := r.fl.h.CatchUp(k.clients, k.at)
		cu.lat, cu.missing = append(cu.lat, lat...), append(cu.missing, missing...)
		res, none := r.fl.h.Resumed(k.clients, k.at)
		cu.resumed, cu.notResumed = append(cu.resumed, res...), append(cu.notResumed, none...)
	}
	return cu
}

func (cu *catchUp) String() string {
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("catchup_clients=%d lagging_at_kill=%d catchup_p50=%v catchup_p99=%v catchup_max=%v resumed_p50=%v resumed_p99=%v",
		cu.clients, cu.lagging, ms(Percentile(cu.lat, 50)), ms(Percentile(cu.lat, 99)), ms(Percentile(cu.lat, 100)),
		ms(Percentile(cu.resumed, 50)), ms(Percentile(cu.resumed, 99)))
}

// check asserts that the killed nodes' clients caught up within the
// target at p99, and went live again (how soon is reported, not
// asserted).
func (cu *catchUp) check(t *testing.T) {
	require.Empty(t, cu.missing, "clients of killed nodes that never got every message acknowledged before the kill")
	require.Empty(t, cu.notResumed, "clients of killed nodes that never got a message sent after the kill")
	require.Positive(t, cu.clients, "the killed nodes had clients")
	require.LessOrEqual(t, Percentile(cu.lat, 99), catchUpTarget,
		"the killed node's clients have every message acknowledged before the kill within %v at p99 (from the kill)", catchUpTarget)
}
