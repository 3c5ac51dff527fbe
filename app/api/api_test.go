package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/app/internal/apptest"
)

// fixture is an API over a fresh memory store with two apps.
type fixture struct {
	t      *testing.T
	srv    *httptest.Server
	svc    *chat.Service
	appA   *chat.App
	keyA   *chat.AppKey
	appB   *chat.App
	keyB   *chat.AppKey
	client *http.Client
}

// newFixture is an API over a fresh memory store.
func newFixture(t *testing.T, opts Options) *fixture { return newFixtureOn(t, "memory", opts) }

// newFixtureOn is an API over a fresh repo of the store (see apptest).
func newFixtureOn(t *testing.T, store string, opts Options) *fixture {
	t.Helper()
	svc := chat.New(apptest.Migrated(t, store, chat.Migrations()), chat.Options{Window: time.Second})
	var err error
	f := &fixture{t: t, svc: svc, client: http.DefaultClient}
	f.appA, f.keyA, err = svc.CreateApp(t.Context(), "A")
	require.NoError(t, err)
	f.appB, f.keyB, err = svc.CreateApp(t.Context(), "B")
	require.NoError(t, err)
	s, err := New(svc, opts)
	require.NoError(t, err)
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	return f
}

// token signs a token of app A (or B) for user in conversation conv.
func (f *fixture) token(appB bool, user, conv string, role chat.Role) string {
	app, key := f.appA, f.keyA
	if appB {
		app, key = f.appB, f.keyB
	}
	raw, err := chat.SignToken(&chat.Token{App: app.ID, KeyID: key.KeyID, User: user, Name: "N " + user,
		Conversation: conv, Role: role, Expires: time.Now().Add(time.Hour)}, key.Secret, time.Now())
	require.NoError(f.t, err)
	return raw
}

// do sends a request and decodes the JSON answer into out (if not nil).
func (f *fixture) do(method, path, tok string, body any, out any) (int, http.Header) {
	f.t.Helper()
	var rd io.Reader
	if s, ok := body.(string); ok {
		rd = strings.NewReader(s)
	} else if body != nil {
		b, err := json.Marshal(body)
		require.NoError(f.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, f.srv.URL+path, rd)
	require.NoError(f.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := f.client.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	if resp.StatusCode >= 400 {
		var e map[string]string
		require.NoError(f.t, json.Unmarshal(raw, &e), "an error answer is JSON: %s", raw)
		require.NotEmpty(f.t, e["error"], "an error answer says what: %s", raw)
	}
	if out != nil && len(raw) > 0 {
		require.NoError(f.t, json.Unmarshal(raw, out), "%s", raw)
	}
	return resp.StatusCode, resp.Header
}

type page struct {
	Messages []messageJSON `json:"messages"`
}

func TestSendAndRead(t *testing.T) {
	apptest.EachStore(t, func(t *testing.T, store string) { testSendAndRead(t, newFixtureOn(t, store, Options{})) })
}

func testSendAndRead(t *testing.T, f *fixture) {
	alice := f.token(false, "alice", "c1", chat.RoleMember)
	st, _ := f.do("POST", "/v1/join", alice, nil, nil)
	require.Equal(t, http.StatusOK, st)

	var m1, again messageJSON
	st, _ = f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "cm1", Text: "hello <b>world</b>"}, &m1)
	require.Equal(t, http.StatusOK, st)
	st, _ = f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "cm1", Text: "hello <b>world</b>"}, &again)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, m1.ID, again.ID, "a retried send is the same message")
	require.Equal(t, "hello <b>world</b>", m1.Text, "stored verbatim")
	require.Equal(t, "alice", m1.User)

	for i := range 3 {
		st, _ = f.do("POST", "/v1/messages", alice, sendRequest{ClientID: fmt.Sprint("n", i), Text: fmt.Sprint("m", i)}, nil)
		require.Equal(t, http.StatusOK, st)
	}
	var p page
	st, _ = f.do("GET", "/v1/messages?limit=2", alice, nil, &p)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, []string{"m2", "m1"}, texts(p))
	st, _ = f.do("GET", "/v1/messages?limit=10&before="+p.Messages[1].Pos, alice, nil, &p)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, []string{"m0", "hello <b>world</b>"}, texts(p))
	st, _ = f.do("GET", "/v1/messages/since?after="+m1.Pos, alice, nil, &p)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, []string{"m0", "m1", "m2"}, texts(after(p, m1.Pos)), "(the overlap window before the position aside)")

	// Unread counts and read positions.
	bob := f.token(false, "bob", "c1", chat.RoleMember)
	f.do("POST", "/v1/join", bob, nil, nil)
	var u map[string]int64
	f.do("GET", "/v1/unread", bob, nil, &u)
	require.Equal(t, int64(4), u["unread"])
	st, _ = f.do("POST", "/v1/read", bob, map[string]string{"pos": p.Messages[len(p.Messages)-1].Pos}, nil)
	require.Equal(t, http.StatusNoContent, st)
	f.do("GET", "/v1/unread", bob, nil, &u)
	require.Zero(t, u["unread"])
}

// after drops the messages at or before position pos, as a client drops
// those of the overlap window that it has.
func after(p page, pos string) page {
	var out page
	for _, m := range p.Messages {
		if greater(m.Pos, pos) {
			out.Messages = append(out.Messages, m)
		}
	}
	return out
}

// greater compares decimal positions.
func greater(a, b string) bool {
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}

func texts(p page) []string {
	out := make([]string, len(p.Messages))
	for i, m := range p.Messages {
		out[i] = m.Text
	}
	return out
}

// Every refusal has its status and a JSON message.
func TestRefusals(t *testing.T) {
	f := newFixture(t, Options{})
	alice := f.token(false, "alice", "c1", chat.RoleMember)
	expired, err := chat.SignToken(&chat.Token{App: f.appA.ID, KeyID: f.keyA.KeyID, User: "alice", Name: "A",
		Conversation: "c1", Role: chat.RoleMember, Expires: time.Now().Add(-time.Minute)}, f.keyA.Secret, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	forged, err := chat.SignToken(&chat.Token{App: f.appA.ID, KeyID: f.keyA.KeyID, User: "alice", Name: "A",
		Conversation: "c1", Role: chat.RoleModerator, Expires: time.Now().Add(time.Hour)}, []byte("not the secret at all, not at all"), time.Now())
	require.NoError(t, err)
	for _, c := range []struct {
		name         string
		method, path string
		tok          string
		body         any
		want         int
	}{
		{"no token", "GET", "/v1/messages", "", nil, 401},
		{"garbage token", "GET", "/v1/messages", "x.y.z", nil, 401},
		{"expired token", "GET", "/v1/messages", expired, nil, 401},
		{"forged token", "GET", "/v1/messages", forged, nil, 401},
		{"empty text", "POST", "/v1/messages", alice, sendRequest{ClientID: "e1", Text: ""}, 400},
		{"long text", "POST", "/v1/messages", alice, sendRequest{ClientID: "e2", Text: strings.Repeat("x", chat.MaxText+1)}, 400},
		{"bad client id", "POST", "/v1/messages", alice, sendRequest{ClientID: "a b", Text: "x"}, 400},
		{"unknown field", "POST", "/v1/messages", alice, `{"client_id":"e3","text":"x","admin":true}`, 400},
		{"bad JSON", "POST", "/v1/messages", alice, `{"client_id":`, 400},
		{"data after the JSON", "POST", "/v1/messages", alice, `{"client_id":"e5","text":"x"} {"client_id":"e6","text":"y"}`, 400},
		{"WebSocket route without an upgrade", "GET", "/v1/ws?token=" + alice, "", nil, 426},
		{"oversized body", "POST", "/v1/messages", alice, `{"client_id":"e4","text":"` + strings.Repeat("x", 70000) + `"}`, 413},
		{"bad position", "GET", "/v1/messages?before=-3", alice, nil, 400},
		{"bad limit", "GET", "/v1/messages?limit=100000", alice, nil, 400},
		{"member hides", "POST", "/v1/messages/whatever/hide", alice, nil, 403},
		{"member bans", "POST", "/v1/bans", alice, map[string]any{"user": "bob", "seconds": 60}, 403},
		{"no such message", "PATCH", "/v1/messages/nope", alice, map[string]string{"text": "x"}, 404},
		{"no such route", "GET", "/v1/nothing", alice, nil, 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, _ := f.do(c.method, c.path, c.tok, c.body, nil)
			require.Equal(t, c.want, st)
		})
	}
	// Not JSON at all.
	req, _ := http.NewRequest("POST", f.srv.URL+"/v1/messages", strings.NewReader("client_id=x"))
	req.Header.Set("Authorization", "Bearer "+alice)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)

	// Too large, sent without its length (chunked): 413 too, not bad JSON.
	chunked := io.MultiReader( // a reader of unknown length: no Content-Length
		strings.NewReader(`{"client_id":"e7","text":"` + strings.Repeat("x", 70000) + `"}`))
	req, _ = http.NewRequest("POST", f.srv.URL+"/v1/messages", chunked)
	req.Header.Set("Authorization", "Bearer "+alice)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
}

// A token reaches only its own app's and conversation's messages.
func TestIsolation(t *testing.T) {
	apptest.EachStore(t, func(t *testing.T, store string) { testIsolation(t, newFixtureOn(t, store, Options{})) })
}

func testIsolation(t *testing.T, f *fixture) {
	a1 := f.token(false, "alice", "c1", chat.RoleMember)
	f.do("POST", "/v1/messages", a1, sendRequest{ClientID: "s1", Text: "secret of c1"}, nil)
	for name, tok := range map[string]string{
		"another conversation":                    f.token(false, "alice", "c2", chat.RoleMember),
		"another app, same conversation and user": f.token(true, "alice", "c1", chat.RoleModerator),
	} {
		var p page
		st, _ := f.do("GET", "/v1/messages", tok, nil, &p)
		require.Equal(t, http.StatusOK, st, name)
		require.Empty(t, p.Messages, name)
	}
	var mine page
	f.do("GET", "/v1/messages", a1, nil, &mine)
	require.Len(t, mine.Messages, 1)
	// App B's moderator cannot hide app A's message.
	st, _ := f.do("POST", "/v1/messages/"+mine.Messages[0].ID+"/hide", f.token(true, "mod", "c1", chat.RoleModerator), nil, nil)
	require.Equal(t, http.StatusNotFound, st)
}

func TestModerationAPI(t *testing.T) {
	apptest.EachStore(t, func(t *testing.T, store string) { testModeration(t, newFixtureOn(t, store, Options{})) })
}

func testModeration(t *testing.T, f *fixture) {
	alice := f.token(false, "alice", "c1", chat.RoleMember)
	mod := f.token(false, "mod", "c1", chat.RoleModerator)
	f.do("POST", "/v1/join", alice, nil, nil)
	f.do("POST", "/v1/join", mod, nil, nil)
	var m messageJSON
	f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "x1", Text: "rude"}, &m)
	st, _ := f.do("POST", "/v1/messages/"+m.ID+"/hide", mod, nil, nil)
	require.Equal(t, http.StatusOK, st)
	var p page
	f.do("GET", "/v1/messages", alice, nil, &p)
	require.True(t, p.Messages[0].Hidden)
	require.Empty(t, p.Messages[0].Text)
	st, _ = f.do("POST", "/v1/bans", mod, map[string]any{"user": "alice", "seconds": 600}, nil)
	require.Equal(t, http.StatusNoContent, st)
	st, _ = f.do("POST", "/v1/bans", mod, map[string]any{"user": "mod", "seconds": 600}, nil)
	require.Equal(t, http.StatusForbidden, st, "moderators cannot be banned")
	st, _ = f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "x2", Text: "again"}, nil)
	require.Equal(t, http.StatusForbidden, st)
	st, _ = f.do("DELETE", "/v1/bans/alice", mod, nil, nil)
	require.Equal(t, http.StatusNoContent, st)
	st, _ = f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "x2", Text: "again"}, nil)
	require.Equal(t, http.StatusOK, st)
}

func TestRateLimits(t *testing.T) {
	now := time.Now()
	f := newFixture(t, Options{UserRate: 3, AppRate: 5, Now: func() time.Time { return now }})
	alice := f.token(false, "alice", "c1", chat.RoleMember)
	var statuses []int
	for i := range 4 {
		st, hdr := f.do("POST", "/v1/messages", alice, sendRequest{ClientID: fmt.Sprint("r", i), Text: "x"}, nil)
		statuses = append(statuses, st)
		if st == http.StatusTooManyRequests {
			require.NotEmpty(t, hdr.Get("Retry-After"))
		}
	}
	require.Equal(t, []int{200, 200, 200, 429}, statuses, "a user's limit of three")
	// The app's limit (five) covers its users together: three sent, two
	// more pass.
	ok := 0
	for i := range 10 {
		st, _ := f.do("POST", "/v1/messages", f.token(false, fmt.Sprint("u", i), "c1", chat.RoleMember), sendRequest{ClientID: "q", Text: "x"}, nil)
		if st == http.StatusOK {
			ok++
		} else {
			require.Equal(t, http.StatusTooManyRequests, st)
		}
	}
	require.Equal(t, 2, ok)
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// newJSONRequest is a request with a JSON body and a bearer token.
func newJSONRequest(method, u, tok string, body []byte) (*http.Request, error) {
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	return req, nil
}

// A message of MaxText characters of four bytes each fits the request
// limits, over HTTP and over a WebSocket.
func TestLongestMessageFits(t *testing.T) {
	f := newFixture(t, Options{})
	alice := f.token(false, "alice", "c1", chat.RoleMember)
	text := strings.Repeat("😀", chat.MaxText)
	st, _ := f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "long1", Text: text}, nil)
	require.Equal(t, http.StatusOK, st)
	c := dialWS(t, f.srv, alice, "")
	c.sendMsg("long2", text)
	c.next(func(fr frame) bool { return fr.Type == "ack" && fr.ClientID == "long2" })
}
