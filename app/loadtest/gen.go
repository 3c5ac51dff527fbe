package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/app/internal/chatclient"
)

// fleet is the generator's clients: clients users spread over convs
// conversations and over the nodes, connected for the whole sweep.
type fleet struct {
	clients []*user
	convs   int
	step    atomic.Int64 // the sweep step being measured
	wg      sync.WaitGroup
	cancel  context.CancelFunc
}

// user is one client of the fleet and what it measured in the current
// step.
type user struct {
	idx  int
	conv int
	c    *chatclient.Client

	mu        sync.Mutex
	latencies []time.Duration // of others' messages of the step, from their schedule
	delivered int64           // others' messages
	echoes    int64           // its own messages, delivered back to it
	acked     int64
	refused   int64
}

// connect signs a token per user and connects them all.
func connect(ctx context.Context, key appKey, nodes []string, clients, convs int) (*fleet, error) {
	ctx, cancel := context.WithCancel(ctx)
	f := &fleet{convs: convs, cancel: cancel}
	now := time.Now()
	for i := range clients {
		u := &user{idx: i, conv: i % convs}
		tok, err := chat.SignToken(&chat.Token{App: key.app, KeyID: key.keyID, User: fmt.Sprint("u", i), Name: fmt.Sprint("user ", i),
			Conversation: fmt.Sprint("c", u.conv), Role: chat.RoleMember, Expires: now.Add(12 * time.Hour)}, key.secret, now)
		if err != nil {
			cancel()
			return nil, err
		}
		u.c = chatclient.New(chatclient.Options{Nodes: nodes, Start: i, Token: tok,
			OnMessage: func(m chatclient.Message, at time.Time) { f.received(u, m, at) },
			OnAck: func(id string, _ chatclient.Message, _ time.Time) {
				if f.current(id) {
					u.mu.Lock()
					u.acked++
					u.mu.Unlock()
				}
			},
			OnRefused: func(id string, _ int, _ string) {
				if f.current(id) {
					u.mu.Lock()
					u.refused++
					u.mu.Unlock()
				}
			},
		})
		f.clients = append(f.clients, u)
		f.wg.Go(func() { u.c.Run(ctx) })
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	for _, u := range f.clients {
		if err := u.c.WaitConnected(wctx); err != nil {
			f.close()
			return nil, fmt.Errorf("connecting %d clients: %w", clients, err)
		}
	}
	return f, nil
}

func (f *fleet) close() {
	f.cancel()
	f.wg.Wait()
}

// The text of a message says its step, when it was scheduled and who
// sent it; its client id starts with the step.
func text(step int64, at time.Time, sender int) string {
	return fmt.Sprintf("s%d t=%d u=%d", step, at.UnixNano(), sender)
}

// parseText reads what text wrote (without fmt's scanning, which would
// cost the generator more than the rest of a delivery).
func parseText(s string) (step, sched int64, sender int, ok bool) {
	f := strings.Fields(s)
	if len(f) != 3 || !strings.HasPrefix(f[0], "s") || !strings.HasPrefix(f[1], "t=") || !strings.HasPrefix(f[2], "u=") {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	step, err1 = strconv.ParseInt(f[0][1:], 10, 64)
	sched, err2 = strconv.ParseInt(f[1][2:], 10, 64)
	sender, err3 = strconv.Atoi(f[2][2:])
	return step, sched, sender, err1 == nil && err2 == nil && err3 == nil
}

func (f *fleet) current(clientID string) bool {
	return strings.HasPrefix(clientID, fmt.Sprintf("s%d-", f.step.Load()))
}

// received records a message delivered to u, if it is another user's
// message of the current step.
func (f *fleet) received(u *user, m chatclient.Message, at time.Time) {
	step, sched, sender, ok := parseText(m.Text)
	if !ok || step != f.step.Load() {
		return
	}
	u.mu.Lock()
	if sender == u.idx { // the sender's own copy
		u.echoes++
		u.mu.Unlock()
		return
	}
	u.delivered++
	u.latencies = append(u.latencies, at.Sub(time.Unix(0, sched)))
	u.mu.Unlock()
}

// result is what one step of the sweep measured.
type result struct {
	Rate       float64 // sends/s scheduled
	Sent       int64   // sends scheduled in the step
	Acked      int64
	Refused    int64
	Expected   int64 // deliveries due: each acknowledged send, to the other members
	Delivered  int64 // of Expected
	Echoes     int64 // sends delivered back to their senders
	Duplicates int64
	Elapsed    time.Duration // from the first send to the end of the step's sends
	P50, P99   time.Duration
	Max        time.Duration
	CPUNodes   float64 // cores the nodes used, on average
	CPUGen     float64 // cores the generator used
	CPUMachine float64 // cores busy on the whole machine (stores' servers too)
}

// cpuTimes are CPU times used so far.
type cpuTimes struct{ nodes, gen, machine time.Duration }

// run sends at rate sends/s in all, spread evenly over the clients on a
// fixed schedule (whatever the answers: no coordinated omission), for
// dur, then waits up to drain for the deliveries.
func (f *fleet) run(ctx context.Context, step int64, rate float64, dur, drain time.Duration, cpu func() cpuTimes) result {
	f.step.Store(step)
	for _, u := range f.clients {
		u.mu.Lock()
		u.latencies, u.delivered, u.echoes, u.acked, u.refused = u.latencies[:0], 0, 0, 0, 0
		u.mu.Unlock()
	}
	dups0 := f.duplicates()
	n := len(f.clients)
	interval := time.Duration(float64(n) / rate * float64(time.Second))
	start := time.Now().Add(50 * time.Millisecond)
	end := start.Add(dur)
	cpu0 := cpu()
	var sent atomic.Int64
	var wg sync.WaitGroup
	for _, u := range f.clients {
		wg.Go(func() {
			first := start.Add(time.Duration(int64(interval) * int64(u.idx) / int64(n)))
			for k := 0; ; k++ {
				at := first.Add(time.Duration(k) * interval)
				if !at.Before(end) {
					return
				}
				if d := time.Until(at); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				sent.Add(1)
				u.c.Send(ctx, fmt.Sprintf("s%d-%d-%d", step, u.idx, k), text(step, at, u.idx))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	members := make([]int64, f.convs)
	for _, u := range f.clients {
		members[u.conv]++
	}
	expected := func() (acked, exp, delivered, echoes int64) {
		for _, u := range f.clients {
			u.mu.Lock()
			acked += u.acked
			exp += u.acked * (members[u.conv] - 1)
			delivered += u.delivered
			echoes += u.echoes
			u.mu.Unlock()
		}
		return
	}
	deadline := time.Now().Add(drain)
	for time.Now().Before(deadline) {
		acked, exp, delivered, echoes := expected()
		if acked == sent.Load() && delivered >= exp && echoes >= acked {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cpu1 := cpu()
	r := result{Rate: rate, Sent: sent.Load(), Elapsed: elapsed, Duplicates: f.duplicates() - dups0}
	r.Acked, r.Expected, r.Delivered, r.Echoes = expected()
	var lat []time.Duration
	for _, u := range f.clients {
		u.mu.Lock()
		r.Refused += u.refused
		lat = append(lat, u.latencies...)
		u.mu.Unlock()
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		r.P50, r.P99, r.Max = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)], lat[len(lat)-1]
	}
	wall := time.Since(start)
	r.CPUNodes = float64(cpu1.nodes-cpu0.nodes) / float64(wall)
	r.CPUGen = float64(cpu1.gen-cpu0.gen) / float64(wall)
	r.CPUMachine = float64(cpu1.machine-cpu0.machine) / float64(wall)
	return r
}

func (f *fleet) duplicates() (n int64) {
	for _, u := range f.clients {
		n += int64(u.c.Stats().Duplicates)
	}
	return n
}

// ok reports whether a step met the targets: every send acknowledged and
// delivered (to its sender too), none twice, and the 99th percentile within p99.
func (r result) ok(p99 time.Duration) bool {
	return r.Refused == 0 && r.Acked == r.Sent && r.Delivered == r.Expected && r.Echoes == r.Acked && r.Duplicates == 0 && r.P99 <= p99
}

// row formats a result for the table.
func (r result) row(label string, nodes, clients int, p99 time.Duration) string {
	secs := r.Elapsed.Seconds()
	verdict := "ok"
	if !r.ok(p99) {
		verdict = "MISSED"
	}
	return fmt.Sprintf("| %s | %d | %d | %.0f | %.0f | %.0f | %.0f | %s | %s | %s | %d | %d | %.2f | %.2f | %.2f | %s |",
		label, nodes, clients, r.Rate, float64(r.Acked)/secs, float64(r.Delivered)/secs, float64(r.Delivered+r.Echoes)/secs,
		ms(r.P50), ms(r.P99), ms(r.Max), r.Sent-r.Acked+r.Refused+(r.Expected-r.Delivered)+(r.Acked-r.Echoes), r.Duplicates,
		r.CPUNodes, r.CPUGen, r.CPUMachine, verdict)
}

const header = "| store | nodes | clients | sends/s scheduled | sends/s acked | deliveries/s to others | with senders' own | p50 | p99 | max | errors | dups | CPU nodes | CPU generator | CPU machine | target |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
}
