// Package faults holds the chat's fault tests and the history checker
// they share.
//
// Each test starts the chat's nodes as processes (app/internal/appnode)
// on a store and a bus, connects chat clients (app/internal/chatclient)
// spread over the nodes and a few conversations, makes them send on a
// schedule, and injects one fault while they do: a PostgreSQL or Redis
// server restarted, a Redis Cluster master failed over, the nodes of a
// riaktest cluster partitioned and healed, an app node killed and
// started again. Then it lets the system settle and checks the run's
// History against the conversations as the chat stored them ([Check]):
// every acknowledged send stored exactly once, delivered to every member
// once, nothing stored or delivered that the test did not send, and
// positions in order.
//
// For the app node killed and started again, the clients that were
// connected to it must also have every message acknowledged before the
// kill within a second of it, at p99.
//
// The servers a test restarts are its own ([StartPostgres],
// [StartRedis], testservers.StartRedisCluster, an in-process riaktest
// cluster); the shared ones that scripts/servers.sh starts
// (internal/testservers) are only used, never stopped. A test whose
// server program (or shared server) is missing skips, or fails under
// STRATA_REQUIRE_SERVERS=1.
//
// The quick versions (12 clients in 3 conversations, 60 sends/s, one
// fault each, a few seconds) run in the normal suite; the long ones (48
// clients in 8 conversations, 200 sends/s, three faults each, 20–30 s)
// with STRATA_FAULTS=long:
//
//	scripts/servers.sh go test -race ./app/faults
//	STRATA_FAULTS=long scripts/servers.sh go test -race -count=1 -v ./app/faults
package faults

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-go/strata/app/internal/chatclient"
)

// Send is a message a test's client sent (once: the client's resends
// share its client id).
type Send struct {
	Sender   string    // the sender's user id
	Conv     string    // the conversation
	ClientID string    // unique in a History
	Text     string    // what was sent
	At       time.Time // when the test first handed it to the client
}

// Ack is the chat's acknowledgement of a send: the stored message.
type Ack struct {
	Message chatclient.Message
	At      time.Time
}

// Receipt is a message as a client got it (chatclient.Options.OnMessage).
type Receipt struct {
	Message chatclient.Message
	At      time.Time
}

// History records what a test's clients sent and were sent: the sends,
// their acknowledgements and refusals, each client's receipts in order,
// and each client's final statistics. Its methods are safe for
// concurrent use (the clients' callbacks record into it).
type History struct {
	mu       sync.Mutex
	members  map[string]string // client (user id) → conversation
	sends    map[string]*Send  // by client id
	bySender map[string][]*Send
	acks     map[string][]Ack     // by client id
	refused  map[string]string    // by client id: status and error
	received map[string][]Receipt // by client, in the order of receipt
	stats    map[string]chatclient.Stats
}

// NewHistory returns an empty History.
func NewHistory() *History {
	return &History{members: map[string]string{}, sends: map[string]*Send{}, bySender: map[string][]*Send{},
		acks: map[string][]Ack{}, refused: map[string]string{}, received: map[string][]Receipt{},
		stats: map[string]chatclient.Stats{}}
}

// Join records that client (a user id) is a member of conv: it should
// receive every acknowledged message of conv.
func (h *History) Join(client, conv string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.members[client] = conv
}

// Sent records a send; call it before handing the send to the client
// (chatclient.Client.Send), so that its acknowledgement cannot come
// first. A client id must not be sent twice.
func (h *History) Sent(sender, clientID, text string, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.sends[clientID]; ok {
		panic("faults: client id " + clientID + " sent twice")
	}
	s := &Send{Sender: sender, Conv: h.members[sender], ClientID: clientID, Text: text, At: at}
	h.sends[clientID] = s
	h.bySender[sender] = append(h.bySender[sender], s)
}

// Acked records an acknowledgement (chatclient.Options.OnAck).
func (h *History) Acked(clientID string, m chatclient.Message, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.acks[clientID] = append(h.acks[clientID], Ack{Message: m, At: at})
}

// Refused records a send refused for good (chatclient.Options.OnRefused).
func (h *History) Refused(clientID string, status int, msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refused[clientID] = fmt.Sprintf("%d %s", status, msg)
}

// Received records a message client got (chatclient.Options.OnMessage).
func (h *History) Received(client string, m chatclient.Message, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.received[client] = append(h.received[client], Receipt{Message: m, At: at})
}

// Final records a client's statistics at the end of the run.
func (h *History) Final(client string, st chatclient.Stats) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stats[client] = st
}

// Settled reports whether every send has been answered (acknowledged or
// refused) and every member has received every acknowledged message of
// its conversation; if not, it says what is still awaited.
func (h *History) Settled() (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	pending := 0
	ackedIn := map[string]map[string]bool{} // conv → message ids
	for id, s := range h.sends {
		a := h.acks[id]
		if len(a) == 0 {
			if _, ok := h.refused[id]; !ok {
				pending++
			}
			continue
		}
		if ackedIn[s.Conv] == nil {
			ackedIn[s.Conv] = map[string]bool{}
		}
		ackedIn[s.Conv][a[0].Message.ID] = true
	}
	missing, behind := 0, 0
	for client, conv := range h.members {
		have := map[string]bool{}
		for _, r := range h.received[client] {
			have[r.Message.ID] = true
		}
		n := 0
		for id := range ackedIn[conv] {
			if !have[id] {
				n++
			}
		}
		if n > 0 {
			missing += n
			behind++
		}
	}
	if pending == 0 && missing == 0 {
		return true, ""
	}
	return false, fmt.Sprintf("%d sends unanswered; %d clients lack %d acknowledged messages in all", pending, behind, missing)
}

// CatchUp returns, for each of clients, how long after at it had every
// message of its conversation acknowledged (to its sender) by at: zero
// if it had them all by then. missing names the clients that never got
// one of them.
func (h *History) CatchUp(clients []string, at time.Time) (lat []time.Duration, missing []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	due := map[string]map[string]bool{} // conv → message ids acknowledged by at
	for id, acks := range h.acks {
		if len(acks) > 0 && !acks[0].At.After(at) {
			conv := h.sends[id].Conv
			if due[conv] == nil {
				due[conv] = map[string]bool{}
			}
			due[conv][acks[0].Message.ID] = true
		}
	}
	for _, client := range clients {
		got := map[string]time.Time{}
		for _, r := range h.received[client] {
			if _, ok := got[r.Message.ID]; !ok {
				got[r.Message.ID] = r.At
			}
		}
		var d time.Duration
		complete := true
		for id := range due[h.members[client]] {
			when, ok := got[id]
			if !ok {
				complete = false
				break
			}
			d = max(d, when.Sub(at))
		}
		if !complete {
			missing = append(missing, client)
			continue
		}
		lat = append(lat, d)
	}
	return lat, missing
}

// Resumed returns, for each of clients, how long after at it received
// the first message sent after at: when it was live again. missing names
// the clients that received none.
func (h *History) Resumed(clients []string, at time.Time) (lat []time.Duration, missing []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, client := range clients {
		found := false
		for _, r := range h.received[client] {
			if s := h.sends[r.Message.ClientID]; s != nil && s.At.After(at) && r.At.After(at) {
				lat = append(lat, r.At.Sub(at))
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, client)
		}
	}
	return lat, missing
}

// Lagging returns how many messages acknowledged by at each of clients
// had not received by at: what a catch-up after at has to bring.
func (h *History) Lagging(clients []string, at time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, client := range clients {
		had := map[string]bool{}
		for _, r := range h.received[client] {
			if !r.At.After(at) {
				had[r.Message.ID] = true
			}
		}
		for id, acks := range h.acks {
			if s := h.sends[id]; s != nil && s.Conv == h.members[client] && len(acks) > 0 && !acks[0].At.After(at) && !had[acks[0].Message.ID] {
				n++
			}
		}
	}
	return n
}

// AckedBetween returns how many sends were acknowledged between from and
// to.
func (h *History) AckedBetween(from, to time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, acks := range h.acks {
		if len(acks) > 0 && !acks[0].At.Before(from) && !acks[0].At.After(to) {
			n++
		}
	}
	return n
}

// Timeline sums the history up in steps of step from start: per step,
// the sends made, their acknowledgements' p50 and maximum latency, the
// acknowledgements received and the receipts. For reading a run.
func (h *History) Timeline(start time.Time, step time.Duration) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	type bucket struct {
		sends, acks, unacked, receipts int
		lat                            []time.Duration
	}
	var bs []bucket
	at := func(t time.Time) *bucket {
		i := max(int(t.Sub(start)/step), 0)
		for len(bs) <= i {
			bs = append(bs, bucket{})
		}
		return &bs[i]
	}
	for id, s := range h.sends {
		b := at(s.At)
		b.sends++
		if a := h.acks[id]; len(a) > 0 {
			b.lat = append(b.lat, a[0].At.Sub(s.At))
			at(a[0].At).acks++
		} else {
			b.unacked++
		}
	}
	for _, rs := range h.received {
		for _, r := range rs {
			at(r.At).receipts++
		}
	}
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = fmt.Sprintf("%6v: sent %4d (unacked %3d, ack p50 %6v max %6v), acks %4d, receipts %5d", time.Duration(i)*step,
			b.sends, b.unacked, Percentile(b.lat, 50).Round(time.Millisecond), Percentile(b.lat, 100).Round(time.Millisecond), b.acks, b.receipts)
	}
	return out
}

// Percentile returns the p-th percentile (0–100, nearest rank) of ds, or
// 0 if ds is empty.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// CheckOptions say what the store promises.
type CheckOptions struct {
	// GapFree: positions are a gap-free sequence from 1 in each
	// conversation (stores with transactions: SQL, a Redis server), so
	// the stored positions must have no hole and every client must get
	// its conversation's messages in position order. Otherwise
	// positions are ids (Riak, Redis Cluster): increasing, with holes.
	GapFree bool
}

// Report is what Check found.
type Report struct {
	Sent, Acked, Refused int
	Stored               int // messages stored in the conversations the test used
	Delivered            int // receipts in all (OnMessage calls)
	Expected             int // deliveries due: each acknowledged message to each member of its conversation
	// Overtaken counts pairs of one sender's sends where the later sent
	// has the earlier position although neither was acknowledged before
	// the other was sent: allowed (a send refused with 5xx is resent
	// after a backoff, while the sender's next sends go on), and
	// reported for information.
	Overtaken int
	// AckP99 and AckMax are the 99th percentile and the maximum of the
	// time from a send (its first hand-over to the client) to its
	// acknowledgement: a store that was down shows in them.
	AckP99, AckMax time.Duration
	// Reconnects counts the clients' connections after their first.
	Reconnects int
	Violations []string
}

// OK reports whether the history passed.
func (r *Report) OK() bool { return len(r.Violations) == 0 }

// Summary is the report's counts on one line.
func (r *Report) Summary() string {
	return fmt.Sprintf("sent=%d acked=%d refused=%d stored=%d delivered=%d/%d overtaken=%d ack_p99=%v ack_max=%v reconnects=%d violations=%d",
		r.Sent, r.Acked, r.Refused, r.Stored, r.Delivered, r.Expected, r.Overtaken,
		r.AckP99.Round(time.Millisecond), r.AckMax.Round(time.Millisecond), r.Reconnects, len(r.Violations))
}

// Error returns the violations (at most max of them, and how many more),
// one a line.
func (r *Report) Error(max int) string {
	if len(r.Violations) <= max {
		return strings.Join(r.Violations, "\n")
	}
	return strings.Join(r.Violations[:max], "\n") + fmt.Sprintf("\n… and %d more", len(r.Violations)-max)
}

func (r *Report) violate(format string, args ...any) {
	r.Violations = append(r.Violations, fmt.Sprintf(format, args...))
}

// pos parses a message's position (-1 if it is not a number).
func pos(m chatclient.Message) int64 {
	p, err := strconv.ParseInt(m.Pos, 10, 64)
	if err != nil {
		return -1
	}
	return p
}

// Check verifies a run's history against what the chat stored: stored
// holds, by conversation, every message the chat has in each
// conversation the test's clients joined, in any order (as read back at
// the end of the run, after the system settled). It checks that
//
//   - every send was answered, and none refused for good (the test sends
//     only valid messages, so a refusal, e.g. a 401 for a store that did
//     not answer, loses a message its user meant to send);
//   - every acknowledged send is stored exactly once, with the id and
//     position its acknowledgement said, and no send is stored twice
//     (even one retried);
//   - nothing is stored that the test did not send (a client id it did
//     not use, or with another text, sender or conversation);
//   - positions are unique, in order and (GapFree) without holes;
//   - a sender's sends keep their order where one was acknowledged
//     before the next was sent;
//   - every member of a conversation received every acknowledged
//     message of it, each once (OnMessage once per id, and the client's
//     Stats().Duplicates zero), nothing that is not stored there, with
//     the stored text and position, and (GapFree) in position order;
//   - every client's outbox is empty.
func Check(h *History, stored map[string][]chatclient.Message, o CheckOptions) *Report {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := &Report{Sent: len(h.sends), Acked: len(h.acks), Refused: len(h.refused)}

	// Answers.
	var ackLat []time.Duration
	for _, id := range sortedKeys(h.sends) {
		acks := h.acks[id]
		if len(acks) > 0 {
			ackLat = append(ackLat, acks[0].At.Sub(h.sends[id].At))
		}
		if why, ok := h.refused[id]; ok {
			r.violate("send %s refused for good (%s): a valid send from a valid token must be stored, or answered 429/5xx and retried", id, why)
		} else if len(acks) == 0 {
			r.violate("send %s never acknowledged (still in its client's outbox)", id)
		}
		if len(acks) > 1 {
			r.violate("send %s acknowledged %d times to its client (OnAck once per send)", id, len(acks))
		}
	}
	r.AckP99, r.AckMax = Percentile(ackLat, 99), Percentile(ackLat, 100)
	for _, id := range sortedKeys(h.acks) {
		if h.sends[id] == nil {
			r.violate("acknowledgement of %s, which the test did not send", id)
		}
	}

	// What is stored.
	type storedMsg struct {
		m   chatclient.Message
		pos int64
	}
	byID := map[string]map[string]storedMsg{} // conv → message id → message
	byClient := map[string][]storedMsg{}      // client id → stored copies
	for _, conv := range sortedKeys(stored) {
		ms := slices.Clone(stored[conv])
		slices.SortStableFunc(ms, func(a, b chatclient.Message) int { return cmp.Compare(pos(a), pos(b)) })
		byID[conv] = map[string]storedMsg{}
		r.Stored += len(ms)
		for i, m := range ms {
			p := pos(m)
			if p <= 0 {
				r.violate("conversation %s: message %s (client id %s) has position %q", conv, m.ID, m.ClientID, m.Pos)
			}
			if i > 0 && p == pos(ms[i-1]) {
				r.violate("conversation %s: position %d holds two messages (%s and %s)", conv, p, ms[i-1].ClientID, m.ClientID)
			}
			if o.GapFree {
				switch {
				case i == 0 && p != 1:
					r.violate("conversation %s: the first position is %d, not 1", conv, p)
				case i > 0 && p > pos(ms[i-1])+1:
					r.violate("conversation %s: positions jump from %d to %d (a gap)", conv, pos(ms[i-1]), p)
				}
			}
			if _, dup := byID[conv][m.ID]; dup {
				r.violate("conversation %s: message id %s stored twice", conv, m.ID)
			}
			byID[conv][m.ID] = storedMsg{m, p}
			s := h.sends[m.ClientID]
			switch {
			case s == nil:
				r.violate("conversation %s: message %s (client id %q, %q) was not sent by the test", conv, m.ID, m.ClientID, m.Text)
				continue
			case s.Conv != conv || s.Sender != m.User || s.Text != m.Text:
				r.violate("conversation %s: message %s (client id %s) is %s/%s %q, but the test sent %s/%s %q",
					conv, m.ID, m.ClientID, conv, m.User, m.Text, s.Conv, s.Sender, s.Text)
			}
			byClient[m.ClientID] = append(byClient[m.ClientID], storedMsg{m, p})
		}
	}
	storedPos := map[string]int64{} // client id → position, of sends stored once
	for _, id := range sortedKeys(h.sends) {
		copies := byClient[id]
		if len(copies) > 1 {
			r.violate("send %s stored %d times (positions %v)", id, len(copies), positions(copies, func(s storedMsg) int64 { return s.pos }))
		}
		if len(copies) == 1 {
			storedPos[id] = copies[0].pos
		}
		if _, refused := h.refused[id]; refused && len(copies) > 0 {
			r.violate("send %s stored although it was refused", id)
		}
		acks := h.acks[id]
		if len(acks) == 0 {
			continue
		}
		a := acks[0].Message
		switch {
		case len(copies) == 0:
			r.violate("send %s acknowledged (id %s, position %s) but not stored", id, a.ID, a.Pos)
		case copies[0].m.ID != a.ID || copies[0].m.Pos != a.Pos:
			r.violate("send %s acknowledged as id %s at position %s but stored as id %s at position %s", id, a.ID, a.Pos, copies[0].m.ID, copies[0].m.Pos)
		}
	}

	// Each sender's order: a send made after another was acknowledged
	// comes after it.
	for _, sender := range sortedKeys(h.bySender) {
		sends := h.bySender[sender]
		type ackAt struct {
			at  time.Time
			pos int64
			id  string
		}
		var acked []ackAt
		for _, s := range sends {
			if p, ok := storedPos[s.ClientID]; ok && len(h.acks[s.ClientID]) > 0 {
				acked = append(acked, ackAt{h.acks[s.ClientID][0].At, p, s.ClientID})
			}
		}
		slices.SortFunc(acked, func(a, b ackAt) int { return a.at.Compare(b.at) })
		bySent := slices.Clone(sends)
		slices.SortStableFunc(bySent, func(a, b *Send) int { return a.At.Compare(b.At) })
		var maxPos int64
		var maxID string
		j := 0
		for i, s := range bySent {
			for ; j < len(acked) && acked[j].at.Before(s.At); j++ {
				if acked[j].pos > maxPos {
					maxPos, maxID = acked[j].pos, acked[j].id
				}
			}
			p, ok := storedPos[s.ClientID]
			if !ok {
				continue
			}
			if p <= maxPos {
				r.violate("sender %s: %s (position %d) was sent after %s (position %d) was acknowledged, but comes before it", sender, s.ClientID, p, maxID, maxPos)
			}
			for _, earlier := range bySent[:i] {
				if q, ok := storedPos[earlier.ClientID]; ok && q > p {
					r.Overtaken++
				}
			}
		}
	}

	// Deliveries.
	for _, client := range sortedKeys(h.members) {
		conv := h.members[client]
		count := map[string]int{}
		var last int64
		for _, rc := range h.received[client] {
			m := rc.Message
			r.Delivered++
			count[m.ID]++
			if count[m.ID] == 2 {
				r.violate("client %s: message %s (client id %s) delivered twice (OnMessage)", client, m.ID, m.ClientID)
			}
			sm, ok := byID[conv][m.ID]
			switch {
			case !ok:
				r.violate("client %s: got message %s (client id %q, %q, position %s), which is not stored in its conversation %s",
					client, m.ID, m.ClientID, m.Text, m.Pos, conv)
				continue
			case sm.m.Text != m.Text || sm.m.Pos != m.Pos || sm.m.ClientID != m.ClientID || sm.m.User != m.User:
				r.violate("client %s: got message %s as %s/%s %q at position %s, but it is stored as %s/%s %q at position %s",
					client, m.ID, m.User, m.ClientID, m.Text, m.Pos, sm.m.User, sm.m.ClientID, sm.m.Text, sm.m.Pos)
			}
			if o.GapFree && count[m.ID] == 1 {
				if sm.pos <= last {
					r.violate("client %s: got position %d after position %d (out of order)", client, sm.pos, last)
				}
				last = max(last, sm.pos)
			}
		}
		for _, id := range sortedKeys(h.acks) {
			s := h.sends[id]
			if s == nil || s.Conv != conv {
				continue
			}
			r.Expected++
			if a := h.acks[id][0].Message; count[a.ID] == 0 {
				r.violate("client %s: never got acknowledged message %s (client id %s, position %s) of its conversation %s", client, a.ID, id, a.Pos, conv)
			}
		}
		st, ok := h.stats[client]
		switch {
		case !ok:
			r.violate("client %s: no final statistics recorded", client)
		case st.Duplicates > 0:
			r.violate("client %s: a connection delivered %d messages twice (Stats().Duplicates)", client, st.Duplicates)
		}
		if ok {
			r.Reconnects += max(st.Connects-1, 0)
		}
		if ok && st.Outbox > 0 {
			r.violate("client %s: %d sends still in its outbox", client, st.Outbox)
		}
	}
	return r
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func positions[T any](s []T, f func(T) int64) []int64 {
	out := make([]int64, len(s))
	for i := range s {
		out[i] = f(s[i])
	}
	return out
}
