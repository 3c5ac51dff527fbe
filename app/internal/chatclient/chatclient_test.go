package chatclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// A send the chat answers with 429 is resent on the same connection
// after a growing backoff, until it is acknowledged.
func TestResendBackoff(t *testing.T) {
	var mu sync.Mutex
	var tries []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		for {
			_, b, err := conn.Read(r.Context())
			if err != nil {
				return
			}
			var req struct {
				ClientID string `json:"client_id"`
			}
			if json.Unmarshal(b, &req) != nil {
				return
			}
			mu.Lock()
			tries = append(tries, time.Now())
			n := len(tries)
			mu.Unlock()
			reply := map[string]any{"type": "error", "client_id": req.ClientID, "status": 429, "error": "slow down"}
			if n == 4 {
				reply = map[string]any{"type": "ack", "client_id": req.ClientID, "message": map[string]any{"id": "1", "client_id": req.ClientID}}
			}
			out, _ := json.Marshal(reply)
			if conn.Write(r.Context(), websocket.MessageText, out) != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	acked := make(chan string, 1)
	c := New(Options{Nodes: []string{srv.URL}, Token: "t", Retry: 20 * time.Millisecond, MaxRetry: time.Second,
		OnAck: func(id string, _ Message, _ time.Time) { acked <- id }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.NoError(t, c.WaitConnected(ctx))
	c.Send(ctx, "m1", "hello")
	select {
	case id := <-acked:
		require.Equal(t, "m1", id)
	case <-time.After(5 * time.Second):
		t.Fatal("the send was never acknowledged")
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, tries, 4, "one send and three resends, on one connection")
	// Waits of about 20, 40 and 80 ms, each at least half of it.
	for i, min := range []time.Duration{10, 20, 40} {
		require.GreaterOrEqual(t, tries[i+1].Sub(tries[i]), min*time.Millisecond, "resend %d", i+1)
	}
	require.Equal(t, 1, c.Stats().Connects)
	require.Zero(t, c.Stats().Outbox)
}
