package chat

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/app/internal/apptest"
)

// newService returns a service over a fresh migrated repo of the store.
func newService(t *testing.T, store string) *Service {
	return New(apptest.Migrated(t, store, Migrations()), Options{Window: time.Second})
}

func eachStore(t *testing.T, fn func(t *testing.T, s *Service)) {
	apptest.EachStore(t, func(t *testing.T, store string) { fn(t, newService(t, store)) })
}

func member(user string) *Token {
	return &Token{App: "pk_a", KeyID: "k1", User: user, Name: "User " + user, Conversation: "c1", Role: RoleMember}
}

func TestSendIsIdempotent(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Service) {
		ctx := t.Context()
		tok := member("u1")
		require.NoError(t, s.Join(ctx, tok))
		m1, err := s.Send(ctx, tok, "cm-1", "hello")
		require.NoError(t, err)
		m2, err := s.Send(ctx, tok, "cm-1", "hello")
		require.NoError(t, err)
		require.Equal(t, m1.ID, m2.ID)
		require.Equal(t, m1.Pos, m2.Pos)
		// Another user's message with the same client id is another message.
		m3, err := s.Send(ctx, member("u2"), "cm-1", "hi")
		require.NoError(t, err)
		require.NotEqual(t, m1.Key, m3.Key)
		all, err := s.Since(ctx, tok, 0, 100)
		require.NoError(t, err)
		require.Len(t, all, 2)
	})
}

func TestTextRules(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Service) {
		ctx := t.Context()
		tok := member("u1")
		for name, text := range map[string]string{
			"empty": "", "blank": " \n\t", "too long": strings.Repeat("é", MaxText+1), "NUL": "a\x00b", "not UTF-8": "a\xffb",
		} {
			_, err := s.Send(ctx, tok, "c-"+strings.ReplaceAll(name, " ", "_"), text)
			require.ErrorIs(t, err, ErrInput, name)
		}
		_, err := s.Send(ctx, tok, "bad id!", "x")
		require.ErrorIs(t, err, ErrInput)
		// Stored verbatim, whatever it looks like.
		for i, text := range []string{strings.Repeat("é", MaxText), "<script>alert(1)</script>", "'; DROP TABLE chat_messages; --", "{{.}} ${x} %s"} {
			m, err := s.Send(ctx, tok, fmt.Sprintf("v%d", i), text)
			require.NoError(t, err)
			got, err := s.Since(ctx, tok, m.Pos-1, 10)
			require.NoError(t, err)
			require.NotEmpty(t, got)
			require.Contains(t, slices.Collect(func(yield func(string) bool) {
				for _, g := range got {
					yield(g.Text)
				}
			}), text)
		}
	})
}

// Concurrent senders and a reader that keeps asking for what came after
// the last position it saw: the reader ends with every message, once,
// and on stores with gap-free positions sees positions 1, 2, 3, … in
// order.
func TestCatchUpMissesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Service) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		const senders, each = 6, 15
		sendersDone := make(chan struct{})
		go func() { sendConcurrently(t, ctx, []*Service{s}, senders, each); close(sendersDone) }()

		reader := member("reader")
		seen := map[int64]bool{}
		var order []int64
		var last int64
		done := false
		for !done {
			select {
			case <-sendersDone:
				done = true
				if !s.GapFree() {
					time.Sleep(1100 * time.Millisecond) // past the overlap window
				}
			default:
			}
			for {
				ms, err := s.Since(ctx, reader, last, 50)
				require.NoError(t, err)
				fresh := 0
				for _, m := range ms {
					if seen[m.ID] {
						continue
					}
					seen[m.ID] = true
					order = append(order, m.Pos)
					fresh++
					last = max(last, m.Pos)
				}
				if fresh == 0 {
					break
				}
			}
		}
		require.Len(t, seen, senders*each, "the reader missed messages")
		if s.GapFree() {
			for i, p := range order {
				require.Equal(t, int64(i+1), p, "positions seen out of order or with a hole")
			}
		}
	})
}

// sendConcurrently has senders members of conversation c1 join, then
// each send each messages at once with the others, member u through
// nodes[u%len(nodes)]. A failed send is an error of t.
func sendConcurrently(t *testing.T, ctx context.Context, nodes []*Service, senders, each int) {
	for u := range senders {
		if err := nodes[0].Join(ctx, member(fmt.Sprint("u", u))); err != nil {
			t.Errorf("join: %v", err)
			return
		}
	}
	var wg sync.WaitGroup
	for u := range senders {
		wg.Go(func() {
			tok := member(fmt.Sprint("u", u))
			for i := range each {
				if _, err := nodes[u%len(nodes)].Send(ctx, tok, fmt.Sprintf("m%d", i), fmt.Sprintf("%d/%d", u, i)); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestHistory(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Service) {
		ctx := t.Context()
		tok := member("u1")
		var sent []*Message
		for i := range 7 {
			m, err := s.Send(ctx, tok, fmt.Sprint("h", i), fmt.Sprint("text ", i))
			require.NoError(t, err)
			sent = append(sent, m)
		}
		page, err := s.History(ctx, tok, 0, 3)
		require.NoError(t, err)
		require.Equal(t, []string{"text 6", "text 5", "text 4"}, texts(page))
		page, err = s.History(ctx, tok, page[len(page)-1].Pos, 3)
		require.NoError(t, err)
		require.Equal(t, []string{"text 3", "text 2", "text 1"}, texts(page))
		page, err = s.History(ctx, tok, page[len(page)-1].Pos, 3)
		require.NoError(t, err)
		require.Equal(t, []string{"text 0"}, texts(page))

		// A hidden message keeps its place; only moderators see its text.
		hidden := sent[5]
		hidden.Hidden = true
		require.NoError(t, s.r.Update(ctx, hidden))
		page, err = s.History(ctx, tok, 0, 2)
		require.NoError(t, err)
		require.Equal(t, []string{"text 6", ""}, texts(page))
		mod := member("m1")
		mod.Role = RoleModerator
		page, err = s.History(ctx, mod, 0, 2)
		require.NoError(t, err)
		require.Equal(t, []string{"text 6", "text 5"}, texts(page))
	})
}

func texts(ms []Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

// Positions are gap-free where one transaction holds a conversation and
// its messages, and read with the overlap window elsewhere: on Riak, and
// behind a router that keeps the messages (AP) on Riak and the
// conversations (CP) on PostgreSQL.
func TestGapFreeByStore(t *testing.T) {
	want := map[string]bool{"memory": true, "sqlite": true, "postgres": true, "redis": true, "cache+sqlite": true,
		"cache+redis": true, "riaktest": false, "riaktest+postgres": false}
	eachStore(t, func(t *testing.T, s *Service) {
		name := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
		w, ok := want[name]
		require.True(t, ok, "a store this test does not know: %s", name)
		require.Equal(t, w, s.GapFree())
	})
}
