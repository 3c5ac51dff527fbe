package faults

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/app/internal/chatclient"
)

// sample is a small run's history and the stored conversations, correct
// as built; the checker's tests break one thing at a time.
type sample struct {
	h      *History
	stored map[string][]chatclient.Message
	t0     time.Time
}

// at is a time of the sample, ms milliseconds into it.
func (s *sample) at(ms int) time.Time { return s.t0.Add(time.Duration(ms) * time.Millisecond) }

// msg is the stored message of a send.
func msg(clientID, user, pos string) chatclient.Message {
	return chatclient.Message{ID: "id-" + clientID, Pos: pos, User: user, ClientID: clientID, Text: "text of " + clientID}
}

// newSample: a and b in conversation c0, x in c1. a sends a-0 (position
// 1) and, once it is acknowledged, a-1 (3); b sends b-0 (2); x sends
// x-0 (1). Every member gets every message of its conversation, in
// order.
func newSample() *sample {
	s := &sample{h: NewHistory(), t0: time.Now()}
	h := s.h
	h.Join("a", "c0")
	h.Join("b", "c0")
	h.Join("x", "c1")
	type send struct {
		id, user, pos   string
		sent, acked, rx int // ms
	}
	sends := []send{
		{"a-0", "a", "1", 0, 10, 12},
		{"b-0", "b", "2", 5, 20, 22},
		{"a-1", "a", "3", 30, 40, 42},
		{"x-0", "x", "1", 1, 11, 13},
	}
	s.stored = map[string][]chatclient.Message{}
	for _, sd := range sends {
		m := msg(sd.id, sd.user, sd.pos)
		h.Sent(sd.user, sd.id, m.Text, s.at(sd.sent))
		h.Acked(sd.id, m, s.at(sd.acked))
		conv := h.members[sd.user]
		s.stored[conv] = append(s.stored[conv], m)
		for _, member := range []string{"a", "b", "x"} {
			if h.members[member] == conv {
				h.Received(member, m, s.at(sd.rx))
			}
		}
	}
	for _, member := range []string{"a", "b", "x"} {
		h.Final(member, chatclient.Stats{Connects: 1})
	}
	return s
}

// setPos moves a message to another position wherever it is: the
// stored copy, the acknowledgement, the receipts.
func (s *sample) setPos(clientID, pos string) {
	for conv, ms := range s.stored {
		for i := range ms {
			if ms[i].ClientID == clientID {
				s.stored[conv][i].Pos = pos
			}
		}
	}
	for i := range s.h.acks[clientID] {
		s.h.acks[clientID][i].Message.Pos = pos
	}
	for c, rs := range s.h.received {
		for i := range rs {
			if rs[i].Message.ClientID == clientID {
				s.h.received[c][i].Message.Pos = pos
			}
		}
		slices.SortStableFunc(s.h.received[c], func(a, b Receipt) int { return strings.Compare(a.Message.Pos, b.Message.Pos) })
	}
}

// The checker passes a correct history and finds each kind of fault in
// one that has it.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		gapFree bool
		breakIt func(s *sample)
		want    string // in a violation; "" for none
	}{
		{name: "correct", gapFree: true, breakIt: func(*sample) {}},
		{name: "correct, positions are ids", breakIt: func(s *sample) { s.setPos("a-1", "1000") }},
		{name: "acknowledged but lost", gapFree: true, want: "acknowledged (id id-a-1, position 3) but not stored", breakIt: func(s *sample) {
			s.stored["c0"] = s.stored["c0"][:2]
		}},
		{name: "stored twice", want: "send a-1 stored 2 times", breakIt: func(s *sample) {
			m := msg("a-1", "a", "4")
			m.ID = "id-a-1-again"
			s.stored["c0"] = append(s.stored["c0"], m)
		}},
		{name: "stored, not sent", want: `client id "zz"`, breakIt: func(s *sample) {
			s.stored["c1"] = append(s.stored["c1"], msg("zz", "x", "2"))
		}},
		{name: "stored with another text", want: "but the test sent", breakIt: func(s *sample) {
			s.stored["c0"][0].Text = "forged"
		}},
		{name: "stored in another conversation", want: "but the test sent", breakIt: func(s *sample) {
			s.stored["c1"] = append(s.stored["c1"], s.stored["c0"][2])
			s.stored["c0"] = s.stored["c0"][:2]
		}},
		{name: "acknowledged at another position", want: "acknowledged as id id-a-0 at position 7", breakIt: func(s *sample) {
			s.h.acks["a-0"][0].Message.Pos = "7"
		}},
		{name: "gap", gapFree: true, want: "positions jump from 2 to 4", breakIt: func(s *sample) { s.setPos("a-1", "4") }},
		{name: "first position", gapFree: true, want: "first position is 2", breakIt: func(s *sample) { s.setPos("x-0", "2") }},
		{name: "two at one position", want: "position 1 holds two messages", breakIt: func(s *sample) { s.setPos("b-0", "1") }},
		{name: "bad position", want: `has position "x"`, breakIt: func(s *sample) { s.setPos("x-0", "x") }},
		{name: "sender order", gapFree: true, want: "sender a: a-1 (position 1) was sent after a-0 (position 2) was acknowledged", breakIt: func(s *sample) {
			s.setPos("a-1", "1")
			s.setPos("a-0", "2")
			s.setPos("b-0", "3")
		}},
		{name: "refused", want: "send x-0 refused for good (401 token no longer valid)", breakIt: func(s *sample) {
			s.h.Refused("x-0", 401, "token no longer valid")
		}},
		{name: "stored though refused", want: "send x-0 stored although it was refused", breakIt: func(s *sample) {
			s.h.Refused("x-0", 400, "no")
		}},
		{name: "unanswered", want: "send b-0 never acknowledged", breakIt: func(s *sample) { delete(s.h.acks, "b-0") }},
		{name: "acknowledged twice", want: "send b-0 acknowledged 2 times", breakIt: func(s *sample) {
			s.h.Acked("b-0", msg("b-0", "b", "2"), s.at(50))
		}},
		{name: "delivered twice", want: "client b: message id-a-0 (client id a-0) delivered twice", breakIt: func(s *sample) {
			s.h.Received("b", msg("a-0", "a", "1"), s.at(60))
		}},
		{name: "not delivered", want: "client x: never got acknowledged message id-x-0", breakIt: func(s *sample) {
			delete(s.h.received, "x")
		}},
		{name: "delivered, not stored", want: "client a: got message id-ghost", breakIt: func(s *sample) {
			s.h.Received("a", msg("ghost", "b", "9"), s.at(60))
		}},
		{name: "delivered from another conversation", want: "client x: got message id-a-0", breakIt: func(s *sample) {
			s.h.Received("x", msg("a-0", "a", "1"), s.at(60))
		}},
		{name: "delivered with another text", want: "but it is stored as", breakIt: func(s *sample) {
			s.h.received["b"][1].Message.Text = "forged"
		}},
		{name: "delivered out of order", gapFree: true, want: "client b: got position 2 after position 3", breakIt: func(s *sample) {
			rs := s.h.received["b"]
			rs[1], rs[2] = rs[2], rs[1]
		}},
		{name: "out of order, positions are ids", breakIt: func(s *sample) {
			rs := s.h.received["b"]
			rs[1], rs[2] = rs[2], rs[1]
		}},
		{name: "a connection's duplicate", want: "client a: a connection delivered 1 messages twice", breakIt: func(s *sample) {
			s.h.Final("a", chatclient.Stats{Duplicates: 1})
		}},
		{name: "outbox", want: "client b: 2 sends still in its outbox", breakIt: func(s *sample) {
			s.h.Final("b", chatclient.Stats{Outbox: 2})
		}},
		{name: "no statistics", want: "client x: no final statistics", breakIt: func(s *sample) { delete(s.h.stats, "x") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSample()
			tc.breakIt(s)
			rep := Check(s.h, s.stored, CheckOptions{GapFree: tc.gapFree})
			if tc.want == "" {
				require.True(t, rep.OK(), rep.Error(10))
				require.Equal(t, 4, rep.Sent)
				require.Equal(t, 4, rep.Acked)
				require.Equal(t, 4, rep.Stored)
				require.Equal(t, 7, rep.Delivered)
				require.Equal(t, 7, rep.Expected)
				return
			}
			require.False(t, rep.OK())
			require.Contains(t, rep.Error(100), tc.want)
		})
	}
}

// A later send that overtakes an earlier one not yet acknowledged (a
// retry after a backoff) is counted, not a violation.
func TestCheckOvertaken(t *testing.T) {
	s := newSample()
	s.h.sends["a-1"].At = s.at(5) // before a-0's acknowledgement
	s.setPos("a-1", "1")
	s.setPos("a-0", "2")
	s.setPos("b-0", "3")
	rep := Check(s.h, s.stored, CheckOptions{GapFree: true})
	require.True(t, rep.OK(), rep.Error(10))
	require.Equal(t, 1, rep.Overtaken)
}

func TestSettled(t *testing.T) {
	s := newSample()
	ok, why := s.h.Settled()
	require.True(t, ok, why)
	s.h.Sent("a", "a-2", "more", s.at(70))
	ok, why = s.h.Settled()
	require.False(t, ok)
	require.Equal(t, "1 sends unanswered; 0 clients lack 0 acknowledged messages in all", why)
	s.h.Acked("a-2", msg("a-2", "a", "4"), s.at(80))
	ok, why = s.h.Settled()
	require.False(t, ok)
	require.Equal(t, "0 sends unanswered; 2 clients lack 2 acknowledged messages in all", why)
	s.h.Received("a", msg("a-2", "a", "4"), s.at(81))
	s.h.Received("b", msg("a-2", "a", "4"), s.at(90))
	ok, why = s.h.Settled()
	require.True(t, ok, why)
}

func TestCatchUp(t *testing.T) {
	s := newSample()
	// At 25 ms, a-0 and b-0 are acknowledged (a-1 is not yet sent), and
	// a and b had both by 22 ms; x had x-0 by 13 ms.
	lat, missing := s.h.CatchUp([]string{"a", "b", "x"}, s.at(25))
	require.Empty(t, missing)
	require.Equal(t, []time.Duration{0, 0, 0}, lat)
	require.Zero(t, s.h.Lagging([]string{"a", "b", "x"}, s.at(25)))
	// At 21 ms, b-0 is acknowledged and reaches a and b 1 ms later.
	lat, missing = s.h.CatchUp([]string{"a", "b"}, s.at(21))
	require.Empty(t, missing)
	require.Equal(t, []time.Duration{time.Millisecond, time.Millisecond}, lat)
	require.Equal(t, 2, s.h.Lagging([]string{"a", "b"}, s.at(21)))
	// b never gets a-1.
	s.h.received["b"] = s.h.received["b"][:2]
	lat, missing = s.h.CatchUp([]string{"a", "b"}, s.at(45))
	require.Equal(t, []string{"b"}, missing)
	require.Len(t, lat, 1)
	// Live again: the first message sent after 25 ms is a-1, at 42 ms
	// (a); b got none.
	res, none := s.h.Resumed([]string{"a", "b"}, s.at(25))
	require.Equal(t, []time.Duration{17 * time.Millisecond}, res)
	require.Equal(t, []string{"b"}, none)
	require.Equal(t, 3, s.h.AckedBetween(s.at(10), s.at(20)), "a-0, x-0 and b-0")
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}} {
		require.Equal(t, tc.want, Percentile(ds, tc.p), fmt.Sprint("p", tc.p))
	}
	require.Zero(t, Percentile(nil, 99))
	require.Equal(t, time.Second, Percentile([]time.Duration{time.Second}, 99))
}
