package api

// The second reviewer's reproductions of defects it found in the chat's
// WebSocket handling (each failed before its fix), kept as regression
// tests.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/app/chat"
)

type revConn struct {
	*websocket.Conn
	ch     chan frame
	closed atomic.Bool
	err    atomic.Value
}

func revDial(t *testing.T, f *fixture, tok, after string) *revConn {
	return revDialURL(t, f.srv.URL, tok, after)
}

func revDialURL(t *testing.T, base, tok, after string) *revConn {
	u := "ws" + strings.TrimPrefix(base, "http") + "/v1/ws?token=" + tok
	if after != "" {
		u += "&after=" + after
	}
	conn, _, err := websocket.Dial(t.Context(), u, nil)
	require.NoError(t, err)
	conn.SetReadLimit(1 << 24)
	t.Cleanup(func() { conn.CloseNow() })
	rc := &revConn{Conn: conn, ch: make(chan frame, 1<<16)}
	go func() {
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				rc.err.Store(err.Error())
				rc.closed.Store(true)
				close(rc.ch)
				return
			}
			var fr frame
			json.Unmarshal(b, &fr)
			rc.ch <- fr
		}
	}()
	return rc
}

// revRead collects frames for d.
func revRead(conn *revConn, d time.Duration) ([]frame, error) {
	tm := time.After(d)
	var out []frame
	for {
		select {
		case fr, ok := <-conn.ch:
			if !ok {
				return out, fmt.Errorf("closed: %v", conn.err.Load())
			}
			out = append(out, fr)
		case <-tm:
			return out, nil
		}
	}
}

func revSend(t *testing.T, conn *revConn, r request) {
	b, _ := json.Marshal(r)
	require.NoError(t, conn.Write(t.Context(), websocket.MessageText, b))
}

func revMessages(fs []frame, typ string) []messageJSON {
	var out []messageJSON
	for _, f := range fs {
		for _, e := range f.Events {
			if e.Type == typ && e.Message != nil {
				out = append(out, *e.Message)
			}
		}
	}
	return out
}

// 1. A WebSocket keeps working after its token expired and after its key
// was disabled.
// 1. A WebSocket keeps working after its token expired and after its key
// was disabled.
func TestRevWSOutlivesToken(t *testing.T) {
	f := newFixture(t, Options{})
	now := time.Now()
	raw, err := chat.SignToken(&chat.Token{App: f.appA.ID, KeyID: f.keyA.KeyID, User: "eve", Name: "Eve",
		Conversation: "c1", Role: chat.RoleMember, Expires: now.Add(2 * time.Second)}, f.keyA.Secret, now)
	require.NoError(t, err)
	conn := revDial(t, f, raw, "")
	require.NoError(t, f.svc.SetKeyEnabled(t.Context(), f.appA.ID, f.keyA.KeyID, false))
	time.Sleep(3 * time.Second)
	st, _ := f.do("GET", "/v1/unread", raw, nil, nil)
	require.Equal(t, 401, st, "HTTP refuses the expired token")
	revSend(t, conn, request{Type: "send", ClientID: "late1", Text: "after expiry and key disabled"})
	fs, _ := revRead(conn, time.Second)
	var acked bool
	for _, fr := range fs {
		if fr.Type == "ack" {
			acked = true
		}
	}
	t.Logf("frames after expiry: %+v", fs)
	require.False(t, acked, "a send over a WebSocket whose token expired and whose key is disabled was accepted")
}

// 2. A banned user edits own message; the edit is broadcast.
func TestRevBannedUserEdits(t *testing.T) {
	f := newFixture(t, Options{})
	alice := f.token(false, "alice", "c1", chat.RoleMember)
	mod := f.token(false, "mod", "c1", chat.RoleModerator)
	bob := f.token(false, "bob", "c1", chat.RoleMember)
	var m messageJSON
	st, _ := f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "a1", Text: "hi"}, &m)
	require.Equal(t, 200, st)
	st, _ = f.do("POST", "/v1/bans", mod, map[string]any{"user": "alice", "seconds": 3600}, nil)
	require.Equal(t, 204, st)
	st, _ = f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "a2", Text: "new"}, nil)
	require.Equal(t, 403, st, "banned user cannot post")
	bc := revDial(t, f, bob, m.Pos)
	revRead(bc, 300*time.Millisecond)
	st, _ = f.do("PATCH", "/v1/messages/"+m.ID, alice, map[string]string{"text": "ABUSE posted while banned"}, nil)
	fs, _ := revRead(bc, time.Second)
	ups := revMessages(fs, "update")
	t.Logf("edit status %d; bob got updates %+v", st, ups)
	require.NotEqual(t, 200, st, "a banned user edited their message (and it was broadcast)")
}

// 3. A retried send re-publishes an old message as a new "message" event:
// a client that already had it (by its after) gets it twice; a banned
// user can do this at will.
func TestRevRetryRepublishes(t *testing.T) {
	f := newFixture(t, Options{UserRate: 100000})
	alice := f.token(false, "alice", "c1", chat.RoleMember)
	bob := f.token(false, "bob", "c1", chat.RoleMember)
	mod := f.token(false, "mod", "c1", chat.RoleModerator)
	var m messageJSON
	f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "a1", Text: "old"}, &m)
	f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "a2", Text: "newer"}, nil)
	bc := revDial(t, f, bob, "2") // bob had both
	revRead(bc, 300*time.Millisecond)
	f.do("POST", "/v1/bans", mod, map[string]any{"user": "alice", "seconds": 3600}, nil)
	for range 3 {
		st, _ := f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "a1", Text: "old"}, nil)
		t.Logf("banned retry status %d", st)
	}
	fs, _ := revRead(bc, time.Second)
	got := revMessages(fs, "message")
	t.Logf("bob (after=2) got %d message events: %+v", len(got), got)
	require.Empty(t, got, "a retried send re-delivered a message at or before the client's position")
}
