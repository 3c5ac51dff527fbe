package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// Frames hold at most wsBatch events and wsFrameBytes of JSON as sent
// (escapes counted), unless one event alone is larger; every event
// arrives once, in order.
func TestFramesBounded(t *testing.T) {
	sent := make(chan error, 1)
	var events []event
	for i := range 300 {
		text := strings.Repeat("<>&", i%7*300) // JSON escapes each as 6 bytes
		if i == 150 {
			text = strings.Repeat("\u2028", wsFrameBytes/3) // larger than a frame alone
		}
		m := messageJSON{ID: fmt.Sprint(i), Pos: fmt.Sprint(i + 1), Text: text}
		e := event{Type: "message", Message: &m}
		if i%2 == 0 {
			e = encoded(e) // as a fan-out sends it
		}
		events = append(events, e)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			sent <- err
			return
		}
		defer conn.CloseNow()
		c := &client{conn: conn}
		sent <- c.send(r.Context(), events)
		conn.Close(websocket.StatusNormalClosure, "")
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	require.NoError(t, err)
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	next := 0
	frames := 0
	for next < len(events) {
		_, b, err := conn.Read(ctx)
		require.NoError(t, err)
		frames++
		var f frame
		require.NoError(t, json.Unmarshal(b, &f))
		require.Equal(t, "events", f.Type)
		require.NotEmpty(t, f.Events)
		require.LessOrEqual(t, len(f.Events), wsBatch)
		if len(f.Events) > 1 {
			require.LessOrEqual(t, len(b), wsFrameBytes, "a frame of %d events", len(f.Events))
		}
		for _, e := range f.Events {
			require.Equal(t, fmt.Sprint(next), e.Message.ID)
			require.Equal(t, events[next].Message.Text, e.Message.Text)
			next++
		}
	}
	require.NoError(t, <-sent)
	require.Greater(t, frames, 300*3*900/wsFrameBytes, "escaped sizes counted")
}
