package chat

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A conversation's turn is held by one send at a time; other
// conversations' turns are free; a wait ends with its context; nothing is
// kept once no send holds or waits.
func TestTurns(t *testing.T) {
	var tu turns
	release, err := tu.take(t.Context(), "a")
	require.NoError(t, err)

	other, err := tu.take(t.Context(), "b")
	require.NoError(t, err, "another conversation's turn is free")
	other()

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = tu.take(cancelled, "a")
	require.ErrorIs(t, err, context.Canceled, "a's turn is held")

	got := make(chan func(), 1)
	go func() {
		r, err := tu.take(context.Background(), "a")
		if err != nil {
			t.Error(err)
			r = func() {}
		}
		got <- r
	}()
	require.Eventually(t, func() bool {
		tu.mu.Lock()
		defer tu.mu.Unlock()
		return tu.convs["a"] != nil && tu.convs["a"].users == 2
	}, 10*time.Second, time.Millisecond, "the second send waits for a's turn")
	select {
	case <-got:
		t.Fatal("a second send took a held turn")
	default:
	}
	release()
	release() // a second release is a no-op, not another's turn
	(<-got)()

	tu.mu.Lock()
	defer tu.mu.Unlock()
	require.Empty(t, tu.convs, "turns no send holds are forgotten")
}

// Sends of one conversation from two nodes (two services over one store,
// each with its own turns) still race each other's transactions; every
// send is stored once, at positions without a gap where the store's are.
func TestSendsFromTwoNodes(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Service) {
		const senders, each = 6, 10
		sendConcurrently(t, t.Context(), []*Service{s, New(s.r, Options{Window: s.window})}, senders, each)
		require.False(t, t.Failed(), "a send failed")
		ms, err := s.Since(t.Context(), member("reader"), 0, senders*each+1)
		require.NoError(t, err)
		require.Len(t, ms, senders*each)
		ids := map[int64]bool{}
		for i, m := range ms {
			ids[m.ID] = true
			if s.GapFree() {
				require.Equal(t, int64(i+1), m.Pos, "positions with a hole or twice")
			}
		}
		require.Len(t, ids, senders*each, "a message stored twice")
	})
}

// A send that panics in its transaction gives its turn back.
func TestInTurnPanics(t *testing.T) {
	var s Service
	require.Panics(t, func() {
		_ = s.inTurn(t.Context(), "a", func() error { panic("store driver") })
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.inTurn(ctx, "a", func() error { return nil }), "the turn is free again")
	require.Empty(t, s.turns.convs)
}
