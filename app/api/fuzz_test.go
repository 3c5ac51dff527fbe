package api

// Fuzz targets of everything the API decodes from outside: the JSON
// bodies, query strings, path parameters and credentials of its HTTP
// requests, the frames clients send over the WebSocket, and the events
// other nodes publish on the bus. Each runs against the real Echo
// handler over a fresh memory store (no server needed), fast enough for
// scripts/fuzz.sh's 50000 executions.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	gbytes "github.com/labstack/gommon/bytes"

	"github.com/strata-go/strata/adapters/memory"
	"github.com/strata-go/strata/app/chat"
	"github.com/strata-go/strata/migrate"
	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/repo"
)

// fuzzEnv is an API over a fresh memory store, with one app, tokens of
// its users, and a few messages in conversation c1. Rate limits are
// out of reach, so that every input reaches the parsers.
type fuzzEnv struct {
	srv  *Server
	svc  *chat.Service
	app  *chat.App
	key  *chat.AppKey
	logs *fuzzLog
	// Bearer tokens: alice (member) and mod (moderator) of c1, banMod
	// (moderator) of "bans", so that bans do not touch c1, and
	// aliceReads (member) of "reads", where no one sends.
	alice, mod, banMod, aliceReads string
	// basic is the Authorization header of the app's backend.
	basic string
	// aliceMsg is alice's message in c1 that edits change, bobMsg bob's
	// that hides and shows.
	aliceMsg, bobMsg string
	// c1 is what c1 held after the setup, oldest first.
	c1 []messageJSON
}

// fuzzLog keeps what the server logs at Warn and above, to show with a
// failure.
type fuzzLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *fuzzLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 1<<16 {
		l.buf.Reset()
	}
	return l.buf.Write(p)
}

func (l *fuzzLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Reset()
}

func (l *fuzzLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newFuzzEnv builds a fuzzEnv, closed when tb ends.
func newFuzzEnv(tb testing.TB) *fuzzEnv {
	tb.Helper()
	ctx := context.Background()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	r, err := repo.New(memory.New())
	must(err)
	tb.Cleanup(func() { r.Close() })
	mig, err := migrate.New(r, chat.Migrations())
	must(err)
	_, err = mig.Up(ctx)
	must(err)
	svc := chat.New(r, chat.Options{Window: time.Second})
	tb.Cleanup(svc.Close)
	e := &fuzzEnv{svc: svc, logs: &fuzzLog{}}
	e.app, e.key, err = svc.CreateApp(ctx, "fuzz")
	must(err)
	// No presence heartbeat: what the server does, it does for an input.
	e.srv, err = New(svc, Options{UserRate: math.MaxInt64, AppRate: math.MaxInt64, MaxUserConns: 1 << 20, PresenceBeat: time.Hour,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	must(err)
	tb.Cleanup(func() { e.srv.Close() })
	sign := func(user, conv string, role chat.Role) string {
		now := time.Now()
		raw, err := chat.SignToken(&chat.Token{App: e.app.ID, KeyID: e.key.KeyID, User: user, Name: "N " + user,
			Conversation: conv, Role: role, Expires: now.Add(23 * time.Hour)}, e.key.Secret, now)
		must(err)
		return raw
	}
	e.alice, e.mod = sign("alice", "c1", chat.RoleMember), sign("mod", "c1", chat.RoleModerator)
	e.banMod, e.aliceReads = sign("mod", "bans", chat.RoleModerator), sign("alice", "reads", chat.RoleMember)
	bob := sign("bob", "c1", chat.RoleMember)
	e.basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(e.app.ID+"/"+e.key.KeyID+":"+hex.EncodeToString(e.key.Secret)))

	call := func(method, path, tok, body string, out any) {
		tb.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := e.serve(req)
		if rec.Code >= 300 {
			tb.Fatalf("setup: %s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		if out != nil {
			must(json.Unmarshal(rec.Body.Bytes(), out))
		}
	}
	for _, tok := range []string{e.alice, e.mod, e.banMod, e.aliceReads, bob} {
		call("POST", "/v1/join", tok, "", nil)
	}
	var m messageJSON
	for i := range 5 {
		call("POST", "/v1/messages", e.alice, fmt.Sprintf(`{"client_id":"setup-%d","text":"message %d"}`, i, i), &m)
	}
	e.aliceMsg = m.ID
	call("PATCH", "/v1/messages/"+m.ID, e.alice, `{"text":"edited"}`, nil)
	call("POST", "/v1/messages", bob, `{"client_id":"setup-bob","text":"rude <b>words</b>"}`, &m)
	e.bobMsg = m.ID
	call("POST", "/v1/messages/"+m.ID+"/hide", e.mod, "", nil)
	var p struct{ Messages []messageJSON }
	call("GET", "/v1/messages/since", e.mod, "", &p)
	e.c1 = p.Messages
	e.logs.reset()
	return e
}

// serve passes a request to the API's Echo handler.
func (e *fuzzEnv) serve(req *http.Request) *httptest.ResponseRecorder {
	defer watchdog(req.Method + " " + req.URL.String())()
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

// hangAfter is how long an input may take: past it, the target panics,
// and the fuzzer reports the input (a hang) with every goroutine's stack.
const hangAfter = 10 * time.Second

// watchdog panics if it is not stopped within hangAfter.
func watchdog(what string) (stop func() bool) {
	return time.AfterFunc(hangAfter, func() { panic(fmt.Sprintf("hung for %v: %s", hangAfter, truncate(what))) }).Stop
}

// checkAnswer asserts what the API promises of every answer: never a
// 5xx (nor a panic, which Echo's Recover turns into a 500); a 4xx is a
// JSON object with a non-empty "error"; a 2xx is JSON (204: empty).
func (e *fuzzEnv) checkAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	st, body := rec.Code, rec.Body.Bytes()
	switch {
	case st >= 500:
		t.Fatalf("%s: status %d %s\nserver log:\n%s", what, st, body, e.logs.String())
	case st >= 400:
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: status %d with a body that is not a JSON object (%v): %q", what, st, err, body)
		}
		if msg, _ := v["error"].(string); strings.TrimSpace(msg) == "" {
			t.Fatalf("%s: status %d without an error message: %s", what, st, body)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s: status %d as %q, not JSON", what, st, ct)
		}
	case st == http.StatusNoContent:
		if len(body) != 0 {
			t.Fatalf("%s: 204 with a body: %q", what, body)
		}
	case st >= 200 && st < 300:
		if !json.Valid(body) {
			t.Fatalf("%s: status %d with a body that is not JSON: %q", what, st, body)
		}
	default:
		t.Fatalf("%s: unexpected status %d: %q", what, st, body)
	}
}

// rawRequest parses a request as the server would read it off the wire,
// or says that the server would refuse it before the API sees it.
func rawRequest(method, target string, header map[string]string, body []byte) (*http.Request, bool) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: chat.test\r\n", method, target)
	for k, v := range header {
		if !validHeaderValue(v) {
			return nil, false // net/http's server answers 400 itself
		}
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	if body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil {
		return nil, false
	}
	return req, true
}

// validHeaderValue is what net/http's server accepts in a header value
// (httpguts.ValidHeaderFieldValue): no control bytes but tabs.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// FuzzHTTPBody posts fuzzed bodies, with valid credentials, to every
// endpoint that reads one, and to those that take none (which must
// ignore it; all but POST /v1/join, whose unread count reads every
// message the memory store holds, which the fuzzed sends pile up):
// never a 5xx nor a panic, every 4xx a JSON error, every 2xx JSON; a
// body over MaxBody is a 413, and only such a body; a body not declared
// JSON a 415; a body the API's strict decoder refuses a 400; and what a
// 2xx says agrees with the request.
func FuzzHTTPBody(f *testing.F) {
	e := newFuzzEnv(f)
	type route struct {
		name, method, path, auth string
		bind                     bool // decodes a JSON body
	}
	routes := []route{
		{"send", "POST", "/v1/messages", "Bearer " + e.alice, true},
		{"edit", "PATCH", "/v1/messages/" + e.aliceMsg, "Bearer " + e.alice, true},
		{"ban", "POST", "/v1/bans", "Bearer " + e.banMod, true},
		{"read", "POST", "/v1/read", "Bearer " + e.alice, true},
		{"admin ban", "POST", "/v1/admin/conversations/bans/bans", e.basic, true},
		{"hide", "POST", "/v1/messages/" + e.bobMsg + "/hide", "Bearer " + e.mod, false},
		{"unhide", "POST", "/v1/messages/" + e.bobMsg + "/unhide", "Bearer " + e.mod, false},
		{"admin hide", "POST", "/v1/admin/conversations/c1/messages/" + e.bobMsg + "/hide", e.basic, false},
		{"unban", "DELETE", "/v1/bans/bob", "Bearer " + e.banMod, false},
	}
	contentTypes := []string{"application/json", "application/json; charset=utf-8", "text/plain", "", "application/x-www-form-urlencoded", "APPLICATION/JSON"}
	idx := func(name string) uint8 {
		return uint8(slices.IndexFunc(routes, func(r route) bool { return r.name == name }))
	}
	maxBody, err := gbytes.Parse(MaxBody) // as Echo's BodyLimit reads it
	if err != nil {
		f.Fatal(err)
	}
	type seed struct {
		route, body, fill string
		n                 uint16
	}
	for _, s := range []seed{
		{"send", `{"client_id":"c-1","text":"hello <b>world</b>"}`, "", 0},
		{"send", `{"client_id":"c-1","text":"same id, other text"}`, "", 0},
		{"send", `{"client_id":"a b","text":"x"}`, "", 0},
		{"send", `{"client_id":"c-2","text":"{{}}"}`, "😀", chat.MaxText},
		{"send", `{"client_id":"c-3","text":"{{}}"}`, `\ud83d\ude00`, chat.MaxText},
		{"send", `{"client_id":"c-4","text":"{{}}x"}`, "😀", chat.MaxText},
		{"send", `{"client_id":"c-5","text":"nul\u0000"}`, "", 0},
		{"send", `{"client_id":"c-6","text":"\ud800"}`, "", 0},
		{"send", "{\"client_id\":\"c-7\",\"text\":\"\xff\xfe\"}", "", 0},
		{"send", `{"client_id":"c-8","text":"   "}`, "", 0},
		{"send", `{"client_id":"c-9","text":"x","admin":true}`, "", 0},
		{"send", `{"client_id":"c-10","text":"x"} trailing`, "", 0},
		{"send", `{"CLIENT_ID":"c-11","Text":"case"}`, "", 0},
		{"send", `{"client_id":1,"text":["x"]}`, "", 0},
		{"send", `{"client_id":`, "", 0},
		{"send", `null`, "", 0},
		{"send", `[]`, "", 0},
		{"send", ``, "", 0},
		{"send", `{"client_id":"c-12","text":"{{}}"}`, "xx", 35000},
		// The largest body, and one a byte larger.
		{"send", `{"client_id":"c-13","text":"{{}}"}`, "x", uint16(maxBody) - uint16(len(`{"client_id":"c-13","text":""}`))},
		{"send", `{"client_id":"c-14","text":"{{}}"}`, "x", uint16(maxBody) - uint16(len(`{"client_id":"c-14","text":""}`)) + 1},
		{"send", `{"client_id":"{{}}","text":"x"}`, "i", chat.MaxIDLen + 1},
		{"send", `{"client_id":"c-15","text":"{{}}"}`, "\\u003c", chat.MaxText},
		{"edit", `{"text":"edited again"}`, "", 0},
		{"edit", `{"text":""}`, "", 0},
		{"edit", `{"text":null}`, "", 0},
		{"edit", `{"text":"x","client_id":"c"}`, "", 0},
		{"edit", `{"text":"{{}}"}`, "é", chat.MaxText + 1},
		{"ban", `{"user":"bob","seconds":60}`, "", 0},
		{"ban", `{"user":"mod","seconds":60}`, "", 0},
		{"ban", `{"user":"bob","seconds":31536000}`, "", 0},
		{"ban", `{"user":"bob","seconds":31536001}`, "", 0},
		{"ban", `{"user":"bob","seconds":0}`, "", 0},
		{"ban", `{"user":"bob","seconds":-1}`, "", 0},
		{"ban", `{"user":"bob","seconds":1.5}`, "", 0},
		{"ban", `{"user":"bob","seconds":9223372036854775807}`, "", 0},
		{"ban", `{"user":"bob","seconds":1e400}`, "", 0},
		{"ban", `{"user":"","seconds":60}`, "", 0},
		{"ban", `{"user":"a/b","seconds":60}`, "", 0},
		{"read", `{"pos":"3"}`, "", 0},
		{"read", `{"pos":"0"}`, "", 0},
		{"read", `{"pos":"-1"}`, "", 0},
		{"read", `{"pos":"9223372036854775807"}`, "", 0},
		{"read", `{"pos":"9223372036854775808"}`, "", 0},
		{"read", `{"pos":3}`, "", 0},
		{"read", `{"pos":""}`, "", 0},
		{"read", `{"pos":" 3"}`, "", 0},
		{"admin ban", `{"user":"bob","seconds":600}`, "", 0},
		{"admin ban", `{"user":"alice","seconds":1}`, "", 0},
		{"hide", `{"whatever":1}`, "", 0},
		{"unhide", ``, "", 0},
		{"admin hide", `not json`, "", 0},
		{"unban", `{"user":"x"}`, "", 0},
	} {
		f.Add(idx(s.route), uint8(0), []byte(s.body), s.fill, s.n)
	}
	f.Add(idx("send"), uint8(1), []byte(`{"client_id":"c-16","text":"charset"}`), "", uint16(0))
	f.Add(idx("send"), uint8(2), []byte(`{"client_id":"c-17","text":"text/plain"}`), "", uint16(0))
	f.Add(idx("ban"), uint8(3), []byte(`{"user":"bob","seconds":60}`), "", uint16(0))
	f.Add(idx("read"), uint8(5), []byte(`{"pos":"1"}`), "", uint16(0))

	f.Fuzz(func(t *testing.T, ri, ci uint8, body []byte, fill string, n uint16) {
		body = expand(body, fill, n, int(maxBody)+64) // any larger is as refused
		r := routes[int(ri)%len(routes)]
		ct := contentTypes[int(ci)%len(contentTypes)]
		e.logs.reset()
		req := httptest.NewRequest(r.method, r.path, bytes.NewReader(body))
		req.Header.Set("Authorization", r.auth)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := e.serve(req)
		what := fmt.Sprintf("%s (%s) %q", r.name, ct, truncate(body))
		e.checkAnswer(t, what, rec)
		st := rec.Code
		if (st == http.StatusRequestEntityTooLarge) != (int64(len(body)) > maxBody) {
			t.Fatalf("%s: a body of %d bytes: status %d", what, len(body), st)
		}
		if st == http.StatusRequestEntityTooLarge {
			return
		}
		if !r.bind {
			if st >= 300 {
				t.Fatalf("%s: a body the route does not read made it fail: %d %s", what, st, rec.Body)
			}
			var got messageJSON
			if hidden := r.name != "unhide"; st == http.StatusOK && r.name != "unban" &&
				(json.Unmarshal(rec.Body.Bytes(), &got) != nil || got.ID != e.bobMsg || got.Hidden != hidden) {
				t.Fatalf("%s: got %s", what, rec.Body)
			}
			return
		}
		if !strings.HasPrefix(ct, "application/json") {
			if st != http.StatusUnsupportedMediaType {
				t.Fatalf("%s: a body that is not declared JSON: status %d", what, st)
			}
			return
		}
		if st == http.StatusBadRequest {
			return // whatever the body
		}
		// What the API's strict decoder makes of the body.
		var req1 struct {
			ClientID string `json:"client_id"`
			Text     string `json:"text"`
		}
		var req2 struct {
			Text string `json:"text"`
		}
		var req3 struct {
			User    string `json:"user"`
			Seconds int64  `json:"seconds"`
		}
		var req4 struct {
			Pos string `json:"pos"`
		}
		into := map[string]any{"send": &req1, "edit": &req2, "ban": &req3, "admin ban": &req3, "read": &req4}[r.name]
		if err := strictJSON(body, into); err != nil {
			t.Fatalf("%s: a body the decoder refuses (%v): status %d", what, err, st)
		}
		if st >= 300 {
			return
		}
		var got messageJSON
		if st == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("%s: %v: %s", what, err, rec.Body)
			}
		}
		switch r.name {
		case "send":
			if got.ClientID != req1.ClientID || got.User != "alice" || got.ID == "" {
				t.Fatalf("%s: sent %+v, got %s", what, req1, rec.Body)
			}
		case "edit":
			if got.ID != e.aliceMsg || got.Text != req2.Text || got.EditedAt == nil {
				t.Fatalf("%s: edited to %q, got %s", what, req2.Text, rec.Body)
			}
		case "ban", "admin ban":
			if req3.Seconds < 1 || req3.Seconds > int64(chat.MaxBan/time.Second) || req3.User == "" {
				t.Fatalf("%s: a ban of %+v accepted", what, req3)
			}
		case "read":
			if p, err := strconv.ParseInt(req4.Pos, 10, 64); err != nil || p < 0 {
				t.Fatalf("%s: read position %q accepted", what, req4.Pos)
			}
		}
	})
}

// strictJSON decodes body into v as the API's bind does: unknown fields
// and anything after the value are errors.
func strictJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("more after the JSON value (%v)", err)
	}
	return nil
}

// expand replaces the first "{{}}" in b with n copies of fill (at most
// limit bytes of them, about), so that inputs reach the size limits while
// staying small, for the fuzzer to mutate and minimize them fast.
func expand(b []byte, fill string, n uint16, limit int) []byte {
	i := bytes.Index(b, []byte("{{}}"))
	if i < 0 || fill == "" {
		return b
	}
	k := min(int(n), limit/len(fill)+1)
	out := make([]byte, 0, len(b)-4+k*len(fill))
	out = append(out, b[:i]...)
	for range k {
		out = append(out, fill...)
	}
	return append(out, b[i+4:]...)
}

// truncate shortens an input for a failure's message.
func truncate[T ~string | ~[]byte](s T) string {
	if len(s) > 300 {
		return string(s[:300]) + fmt.Sprintf("…(%d bytes)", len(s))
	}
	return string(s)
}

// FuzzHTTPQuery sends fuzzed query strings (as the server reads them off
// the request line) to every endpoint that reads one, /v1/ws before its
// upgrade included: never a 5xx nor a panic, every 4xx a JSON error,
// every 2xx JSON that keeps to what the parameters asked (a page of at
// most limit= messages before before=, or after after=, in order) and
// shows hidden texts to moderators only; /v1/ws hands to the WebSocket
// handshake only a valid token and positions.
func FuzzHTTPQuery(f *testing.F) {
	e := newFuzzEnv(f)
	type route struct{ name, path, auth string }
	routes := []route{
		{"history", "/v1/messages", "Bearer " + e.alice},
		{"since", "/v1/messages/since", "Bearer " + e.alice},
		{"updates", "/v1/messages/updates", "Bearer " + e.alice},
		{"admin history", "/v1/admin/conversations/c1/messages", e.basic},
		{"ws", "/v1/ws", ""},
		{"unread", "/v1/unread", "Bearer " + e.alice},
		{"moderator history", "/v1/messages", "Bearer " + e.mod},
	}
	pos := func(i int) string { return e.c1[i].Pos }
	changed := e.c1[len(e.c1)-1].Changed
	for ri, qs := range [][]string{
		{"", "limit=2", "limit=2&before=" + pos(3), "before=0", "before=-3", "before=9223372036854775807", "before=9223372036854775808",
			"limit=0", "limit=200", "limit=201", "limit=100000", "limit=1e3", "limit=+5", "limit=%35", "before=%zz", "before=1&before=x",
			"before=" + pos(2) + "&limit=1", "before=0x10", "before= 1", "limit=-1"},
		{"after=" + pos(1), "after=0&limit=1", "after=-1", "after=abc", "after=9223372036854775807", "limit=2&after=" + pos(0), "after="},
		{"seen=" + changed, "after=" + changed, "seen=1&after=1", "seen=9223372036854775807", "seen=-1", "after=4194304", "seen=0&after=0", "seen=x"},
		{"before=" + pos(4), "limit=1", "before=x"},
		{"after=" + pos(2), "after=0", "changed=" + changed, "after=&changed=", "after=-1", "changed=x", "after=1&after=-1",
			"changed=9223372036854775807", "token=x.y.z", "token="},
		{"anything=1", ""},
		{"limit=3"},
	} {
		for _, q := range qs {
			f.Add(uint8(ri), true, q)
		}
	}
	f.Add(uint8(4), false, "token="+url.QueryEscape(e.alice)+"&after=1")
	f.Add(uint8(4), false, "token=eyJhbGciOiJub25lIn0.e30.")
	f.Add(uint8(4), false, "")

	f.Fuzz(func(t *testing.T, ri uint8, withToken bool, q string) {
		r := routes[int(ri)%len(routes)]
		if r.name == "ws" && withToken {
			q = "token=" + url.QueryEscape(e.alice) + "&" + q
		}
		header := map[string]string{}
		if r.auth != "" {
			header["Authorization"] = r.auth
		}
		req, ok := rawRequest("GET", r.path+"?"+q, header, nil)
		if !ok {
			return
		}
		e.logs.reset()
		rec := e.serve(req)
		what := fmt.Sprintf("%s?%s", r.path, truncate(q))
		query := req.URL.Query()
		if r.name == "ws" && rec.Code == http.StatusUpgradeRequired && rec.Header().Get("Upgrade") == "websocket" {
			// The API's checks passed, and then it refused a request
			// that asks for no upgrade: its parameters were good.
			if _, err := chat.ParseToken(t.Context(), query.Get("token"), e.svc.KeyFunc(), time.Now()); err != nil {
				t.Fatalf("%s: upgrade with a bad token: %v", what, err)
			}
			for _, name := range []string{"after", "changed"} {
				if v := query.Get(name); v != "" {
					if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
						t.Fatalf("%s: upgrade with %s=%q", what, name, v)
					}
				}
			}
			return
		}
		e.checkAnswer(t, what, rec)
		if rec.Code != http.StatusOK {
			return
		}
		var got struct {
			Messages []messageJSON `json:"messages"`
			Next     *string       `json:"next"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v: %s", what, err, rec.Body)
		}
		param := func(name string) int64 {
			v := query.Get(name)
			n, err := strconv.ParseInt(v, 10, 64)
			if v != "" && (err != nil || n < 0) {
				t.Fatalf("%s: accepted %s=%q", what, name, v)
			}
			return n
		}
		limit := 50 // of history and since
		if v := query.Get("limit"); v != "" && r.name != "updates" && r.name != "unread" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > chat.MaxHistory {
				t.Fatalf("%s: accepted limit=%q", what, v)
			}
			limit = n
		}
		member := r.auth == "Bearer "+e.alice
		for _, m := range got.Messages {
			if m.Hidden && (m.Text == "") != member {
				t.Fatalf("%s: a hidden message as the %s sees it: %+v", what, map[bool]string{true: "member", false: "moderator"}[member], m)
			}
		}
		switch r.name {
		case "history", "admin history", "moderator history":
			before := param("before")
			if len(got.Messages) > limit {
				t.Fatalf("%s: %d messages, over the limit of %d", what, len(got.Messages), limit)
			}
			for i, m := range got.Messages {
				p, _ := strconv.ParseInt(m.Pos, 10, 64)
				if before > 0 && p >= before || i > 0 && p >= mustPos(got.Messages[i-1]) {
					t.Fatalf("%s: positions out of order or range: %+v", what, got.Messages)
				}
			}
		case "since":
			after := param("after")
			if len(got.Messages) > limit {
				t.Fatalf("%s: %d messages, over the limit of %d", what, len(got.Messages), limit)
			}
			for i, m := range got.Messages {
				// The memory store's positions are gap-free: no overlap window.
				if p := mustPos(m); p <= after || i > 0 && p <= mustPos(got.Messages[i-1]) {
					t.Fatalf("%s: positions out of order or range: %+v", what, got.Messages)
				}
			}
		case "updates":
			if seen, after := param("seen"), param("after"); seen > 0 && after > 0 {
				t.Fatalf("%s: accepted both seen= and after=", what)
			}
			if got.Next == nil {
				t.Fatalf("%s: no next: %s", what, rec.Body)
			}
			if n, err := strconv.ParseInt(*got.Next, 10, 64); err != nil || n < 0 {
				t.Fatalf("%s: next %q", what, *got.Next)
			}
		}
	})
}

func mustPos(m messageJSON) int64 {
	p, _ := strconv.ParseInt(m.Pos, 10, 64)
	return p
}

// FuzzHTTPPath puts fuzzed path parameters (a message id, a user id, a
// conversation id; raw, as the request line carries them) in every route
// that has one: never a 5xx nor a panic, every 4xx a JSON error, every
// 2xx JSON.
func FuzzHTTPPath(f *testing.F) {
	e := newFuzzEnv(f)
	type route struct {
		name, method, pattern, auth, body string
	}
	routes := []route{
		{"edit", "PATCH", "/v1/messages/{}", "Bearer " + e.alice, `{"text":"edited by fuzz"}`},
		{"hide", "POST", "/v1/messages/{}/hide", "Bearer " + e.mod, ""},
		{"unhide", "POST", "/v1/messages/{}/unhide", "Bearer " + e.mod, ""},
		{"unban", "DELETE", "/v1/bans/{}", "Bearer " + e.banMod, ""},
		{"admin history", "GET", "/v1/admin/conversations/{}/messages", e.basic, ""},
		{"admin ban", "POST", "/v1/admin/conversations/{}/bans", e.basic, `{"user":"bob","seconds":60}`},
		{"admin hide", "POST", "/v1/admin/conversations/{}/messages/" + e.bobMsg + "/hide", e.basic, ""},
		{"admin unban", "DELETE", "/v1/admin/conversations/{}/bans/bob", e.basic, ""},
		{"admin unhide", "POST", "/v1/admin/conversations/c1/messages/{}/unhide", e.basic, ""},
		{"admin unban user", "DELETE", "/v1/admin/conversations/c1/bans/{}", e.basic, ""},
	}
	// What each route's parameter should be, and what it should not.
	for ri, p := range []string{e.aliceMsg, e.bobMsg, e.bobMsg, "bob", "c1", "c1", "c1", "c1", e.bobMsg, "bob"} {
		f.Add(uint8(ri), p)
		f.Add(uint8(ri), "")
		f.Add(uint8(ri), "nope")
	}
	for _, ri := range []uint8{0, 3, 4} {
		for _, p := range []string{"%2F", "a%2Fb", "..", "../../v1/unread", "%zz", "%00", "x?y=1", "x#frag", strings.Repeat("a", 300),
			"ü", "%C3%BC", "a b", "*", "c1/messages", "mod", "a:b@c.d", "%E2%82%AC", e.aliceMsg + "%00"} {
			f.Add(ri, p)
		}
	}
	f.Fuzz(func(t *testing.T, ri uint8, p string) {
		r := routes[int(ri)%len(routes)]
		header := map[string]string{"Authorization": r.auth}
		var body []byte
		if r.body != "" {
			header["Content-Type"] = "application/json"
			body = []byte(r.body)
		}
		req, ok := rawRequest(r.method, strings.Replace(r.pattern, "{}", p, 1), header, body)
		if !ok {
			return
		}
		e.logs.reset()
		e.checkAnswer(t, fmt.Sprintf("%s %s", r.method, req.RequestURI), e.serve(req))
	})
}

// FuzzHTTPAuth sends fuzzed Authorization headers, bearer (to a user's
// endpoint) or Basic (to the app backend's): never a 5xx nor a panic,
// every refusal a JSON error, and a 2xx only for credentials that are
// the app's.
func FuzzHTTPAuth(f *testing.F) {
	e := newFuzzEnv(f)
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	secret := hex.EncodeToString(e.key.Secret)
	for _, h := range []string{"Bearer " + e.alice, "Bearer  " + e.alice + " ", "bearer " + e.alice, "Bearer", "Bearer ", e.alice, "Bearer x.y.z"} {
		f.Add(false, h)
	}
	for _, h := range []string{e.basic, basic(e.app.ID+"/"+e.key.KeyID, strings.ToUpper(secret)), basic(e.app.ID+"/"+e.key.KeyID, secret[:10]),
		basic(e.app.ID+"/"+e.key.KeyID, "zz"), basic(e.app.ID, secret), basic("/", ""), basic(e.app.ID+"/"+e.key.KeyID+"/x", secret),
		basic(strings.Repeat("a", 1000)+"/k", secret), basic("a\x00b/k", "00"), "Basic !!!", "Basic ", "Basic", "Bearer " + e.alice} {
		f.Add(true, h)
	}
	f.Fuzz(func(t *testing.T, admin bool, h string) {
		path := "/v1/unread"
		if admin {
			path = "/v1/admin/conversations/c1/messages"
		}
		req, ok := rawRequest("GET", path, map[string]string{"Authorization": h}, nil)
		if !ok {
			return
		}
		e.logs.reset()
		rec := e.serve(req)
		what := fmt.Sprintf("%s with %q", path, truncate(h))
		e.checkAnswer(t, what, rec)
		if rec.Code >= 300 {
			return
		}
		if admin {
			user, pass, _ := req.BasicAuth()
			if s, err := hex.DecodeString(pass); err != nil || user != e.app.ID+"/"+e.key.KeyID || !bytes.Equal(s, e.key.Secret) {
				t.Fatalf("%s: accepted", what)
			}
			return
		}
		raw, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		if tok, err := chat.ParseToken(t.Context(), strings.TrimSpace(raw), e.svc.KeyFunc(), time.Now()); err != nil || tok.App != e.app.ID {
			t.Fatalf("%s: accepted (%v)", what, err)
		}
	})
}

// wsConn is a test's WebSocket connection to the API, and when it last
// sent a read position.
type wsConn struct {
	conn     *websocket.Conn
	lastRead time.Time
}

// FuzzWSFrames writes fuzzed frames over WebSocket connections kept
// across inputs (but a frame over the read limit, which gets one of its
// own, that the server rightly closes): the server answers each as it
// says it does — bad JSON and unknown types with an error of status 400, a send
// with its ack or an error with its client id, typing with nothing, a
// read position with nothing or an error of status 400 — never with a
// status ≥ 500, and keeps the connection. After each input, a send the
// server must refuse (empty text, with a unique client id) marks the end
// of the input's answers. The server refuses a connection's read
// positions more often than one per readEvery (429): read positions go
// over connections of their own (in another conversation), each used
// once per readEvery at most, so that every input gets the same answer
// however fast they come.
func FuzzWSFrames(f *testing.F) {
	e := newFuzzEnv(f)
	hs := httptest.NewServer(e.srv)
	f.Cleanup(hs.Close)
	base := "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/ws?token="
	mainURL := base + url.QueryEscape(e.alice) // no after=: a page, however many messages the fuzzer sent
	readsURL := base + url.QueryEscape(e.aliceReads) + "&after=0"
	var main *wsConn
	var reads []*wsConn // least recently used first
	f.Cleanup(func() {
		for _, c := range append(reads, main) {
			if c != nil {
				c.conn.CloseNow()
			}
		}
	})
	dial := func(t *testing.T, ctx context.Context, u string) *wsConn {
		c, _, err := websocket.Dial(ctx, u, nil)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		c.SetReadLimit(1 << 22)
		return &wsConn{conn: c}
	}
	nonce, seq := rand.Uint64(), 0
	had := map[string]bool{} // the ids of the messages the main connections were sent

	for _, s := range []string{
		`{"type":"send","client_id":"w-1","text":"hello"}`,
		`{"type":"send","client_id":"w-1","text":"hello again, same id"}`,
		`{"type":"send","client_id":"w-5","text":""}`,
		`{"type":"send","client_id":"","text":"no id"}`,
		`{"type":"send","client_id":"w 4","text":"bad id"}`,
		`{"type":"send","client_id":"w-6","text":"\u0000"}`,
		"{\"type\":\"send\",\"client_id\":\"w-7\",\"text\":\"\xff\"}",
		`{"type":"send","client_id":"w-8","text":"x","extra":[1,2,{}]}`,
		`{"type":"send","client_id":7,"text":"x"}`,
		`{"type":"typing"}`,
		`{"type":"read","pos":"` + e.c1[0].Pos + `"}`,
		`{"type":"read","pos":"0"}`,
		`{"type":"read","pos":"-1"}`,
		`{"type":"read","pos":"x"}`,
		`{"type":"read","pos":"99999999999999999999"}`,
		`{"type":"read","pos":9}`,
		`{"type":"ack"}`,
		`{"type":"SEND","client_id":"w-9","text":"case"}`,
		`{"TYPE":"send","CLIENT_ID":"w-10","TEXT":"keys ignore case"}`,
		`{}`, `null`, `[]`, `"send"`, `1`, ``, ` `, `{`, `{"type":`, "\x00\x01", "\xff\xfe",
	} {
		f.Add([]byte(s), "", uint16(0))
	}
	for _, s := range []struct {
		frame, fill string
		n           uint16
	}{
		{`{"type":"send","client_id":"w-2","text":"{{}}"}`, "😀", chat.MaxText},
		{`{"type":"send","client_id":"w-3","text":"{{}}"}`, "x", chat.MaxText + 1},
		{`{"type":"send","client_id":"w-11","text":"{{}}"}`, `\u2028`, chat.MaxText},
		{`{"type":"send","client_id":"w-12","text":"{{}}"}`, "xx", wsReadLimit / 2},
		{`{{}}{}`, " ", wsReadLimit - 2}, // the largest frame
		{`{{}}{}`, " ", wsReadLimit - 1}, // a byte too large
	} {
		f.Add([]byte(s.frame), s.fill, s.n)
	}

	f.Fuzz(func(t *testing.T, data []byte, fill string, n uint16) {
		data = expand(data, fill, n, wsReadLimit+64) // any larger is as refused
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		var req request
		jsonErr := json.Unmarshal(data, &req) // as the server reads the frame
		isRead := jsonErr == nil && req.Type == "read" && len(data) <= wsReadLimit
		var c *wsConn
		switch {
		case len(data) > wsReadLimit:
			// A connection of its own, which the server ends: in a
			// conversation without messages, quick to make.
			c = dial(t, ctx, readsURL)
		case !isRead:
			if main == nil {
				main = dial(t, ctx, mainURL)
			}
			c = main
		case len(reads) > 0 && time.Since(reads[0].lastRead) > readEvery+20*time.Millisecond:
			c, reads = reads[0], reads[1:]
		default:
			c = dial(t, ctx, readsURL)
		}
		// A failure leaves the connection in any state: the next input
		// (a minimization's, say) starts on a fresh one.
		ok := false
		defer func() {
			switch {
			case !ok:
				c.conn.CloseNow()
				if c == main {
					main = nil
				}
			case isRead:
				c.lastRead = time.Now()
				reads = append(reads, c)
			}
		}()
		what := fmt.Sprintf("frame %q", truncate(data))
		if len(data) > wsReadLimit {
			// Over the limit: the server closes the connection, saying
			// why — unless its close, with the frame's rest unread,
			// reset the connection first (a write or read fails).
			_ = c.conn.Write(ctx, websocket.MessageText, data)
			for {
				_, _, err := c.conn.Read(ctx)
				if err == nil {
					continue
				}
				if st := websocket.CloseStatus(err); st != -1 && st != websocket.StatusMessageTooBig || ctx.Err() != nil {
					t.Fatalf("%s of %d bytes: the connection ended with %v (%v), not StatusMessageTooBig", what, len(data), st, err)
				}
				break
			}
			return // !ok: closed
		}
		seq++
		mark := fmt.Sprintf("fuzz-mark-%x-%d", nonce, seq)
		if err := c.conn.Write(ctx, websocket.MessageText, data); err != nil {
			t.Fatalf("%s: write: %v", what, err)
		}
		if err := c.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"send","client_id":"`+mark+`","text":""}`)); err != nil {
			t.Fatalf("%s: write the mark: %v", what, err)
		}
		var replies []frame
		for {
			typ, b, err := c.conn.Read(ctx)
			if err != nil {
				t.Fatalf("%s: the connection ended (close status %v): %v\nserver log:\n%s", what, websocket.CloseStatus(err), err, e.logs.String())
			}
			var fr frame
			if err := json.Unmarshal(b, &fr); err != nil || typ != websocket.MessageText {
				t.Fatalf("%s: a reply that is not a JSON text frame (%v, %v): %q", what, typ, err, truncate(b))
			}
			if fr.Status >= 500 {
				t.Fatalf("%s: a reply of status %d: %s\nserver log:\n%s", what, fr.Status, b, e.logs.String())
			}
			if fr.Type == "events" {
				for _, ev := range fr.Events {
					if ev.Type == "message" && ev.Message != nil {
						had[ev.Message.ID] = true
					}
				}
				continue
			}
			if fr.Type == "error" && fr.ClientID == mark {
				if fr.Status != http.StatusBadRequest {
					t.Fatalf("%s: the mark's answer %s", what, b)
				}
				break
			}
			if fr.Type != "ack" && fr.Type != "error" {
				t.Fatalf("%s: a reply of type %q: %s", what, fr.Type, b)
			}
			if fr.Type == "error" && (fr.Status < 400 || fr.Error == "") {
				t.Fatalf("%s: an error without a 4xx status and a message: %s", what, b)
			}
			replies = append(replies, fr)
		}
		// A new message comes back as an event (on another goroutine of
		// the server's): waited for, so that the input's work ends with
		// it, and the coverage the fuzzer sees is the input's.
		if len(replies) == 1 && replies[0].Type == "ack" && replies[0].Message != nil && !had[replies[0].Message.ID] {
			ectx, cancel := context.WithTimeout(ctx, 2*time.Second)
			for !had[replies[0].Message.ID] {
				_, b, err := c.conn.Read(ectx)
				if err != nil {
					if ctx.Err() != nil || ectx.Err() == nil {
						t.Fatalf("%s: waiting for its event: %v", what, err)
					}
					// Unless a previous input failed after its send, the
					// event arrives: this is no place to tell.
					c.conn.CloseNow()
					if c == main {
						main = nil
					}
					break
				}
				var fr frame
				if err := json.Unmarshal(b, &fr); err != nil {
					t.Fatalf("%s: a frame that is not JSON: %q", what, truncate(b))
				}
				for _, ev := range fr.Events {
					if ev.Type == "message" && ev.Message != nil {
						had[ev.Message.ID] = true
					}
				}
			}
			cancel()
		}
		one := func(pred func(frame) bool) {
			t.Helper()
			if len(replies) != 1 || !pred(replies[0]) {
				t.Fatalf("%s: answered %+v", what, replies)
			}
		}
		switch {
		case jsonErr != nil:
			one(func(fr frame) bool {
				return fr.Type == "error" && fr.Status == http.StatusBadRequest && fr.ClientID == ""
			})
		case req.Type == "send":
			one(func(fr frame) bool {
				if fr.Type == "ack" {
					return fr.ClientID == req.ClientID && fr.Message != nil && fr.Message.ClientID == req.ClientID && fr.Message.User == "alice"
				}
				return fr.ClientID == req.ClientID
			})
		case req.Type == "typing":
			if len(replies) != 0 {
				t.Fatalf("%s: answered %+v", what, replies)
			}
		case req.Type == "read":
			if p, err := strconv.ParseInt(req.Pos, 10, 64); err == nil && p >= 0 {
				if len(replies) != 0 {
					t.Fatalf("%s: answered %+v", what, replies)
				}
			} else {
				one(func(fr frame) bool { return fr.Type == "error" && fr.Status == http.StatusBadRequest })
			}
		default:
			one(func(fr frame) bool { return fr.Type == "error" && fr.Status == http.StatusBadRequest })
		}
		ok = true
	})
}

// FuzzBusEvent hands the hub fuzzed events as the bus delivers them from
// other nodes, in a room of this node with a member and a moderator:
// never a panic; what is not JSON is dropped; only messages, updates
// (each with its message), typing, resyncs and presence reach clients,
// the first four as they came and presence as the sorted, duplicate-free
// list of who is online (this node's users always in it); another node's
// presence is recorded as it said; and every event a client gets can be
// written to it (the writer drops a client whose event fails to encode),
// hidden texts blanked for the member without changing the event the
// other clients share.
func FuzzBusEvent(f *testing.F) {
	bus := pubsub.NewLocal()
	f.Cleanup(func() { bus.Close() })
	h := newHub(bus, slog.New(slog.DiscardHandler), "node-here", time.Hour, time.Hour)
	f.Cleanup(h.close)
	exp := time.Now().Add(time.Hour)
	// Clients as if their writers were busy: what the hub hands them
	// stays in their queues, for the test to take.
	member := &client{tok: &chat.Token{App: "pk_fuzz", KeyID: "k1", User: "alice", Name: "Alice", Conversation: "c1", Role: chat.RoleMember, Expires: exp},
		writing: true}
	moderator := &client{tok: &chat.Token{App: "pk_fuzz", KeyID: "k1", User: "mod", Name: "Mod", Conversation: "c1", Role: chat.RoleModerator, Expires: exp},
		writing: true}
	local := []person{{ID: "alice", Name: "Alice"}, {ID: "mod", Name: "Mod"}}
	tp := topic(member.tok)
	ready := make(chan struct{})
	close(ready)
	rm := &room{tok: member.tok, ready: ready, clients: map[*client]struct{}{member: {}, moderator: {}}, remote: map[string]announcement{}}
	h.mu.Lock()
	h.rooms[tp] = rm
	h.mu.Unlock()

	now := time.Now().UTC()
	msg := &messageJSON{ID: "k", SID: "123", Pos: "7", User: "bob", Name: "Bob", ClientID: "c", Text: "hi", Version: 1, Changed: "123", SentAt: now}
	hidden := *msg
	hidden.Hidden, hidden.Version, hidden.EditedAt = true, 2, &now
	for _, ev := range []event{
		{Type: "message", Message: msg},
		{Type: "update", Message: &hidden},
		{Type: "presence", Node: "node-other", Users: []person{{ID: "bob", Name: "Bob"}, {ID: "alice", Name: "Alice"}, {ID: "alice", Name: "Alice 2"}}},
		{Type: "presence", Node: "node-here", Users: []person{{ID: "ghost"}}},
		{Type: "presence", Node: "", Users: nil},
		{Type: "who", Node: "node-other"},
		{Type: "typing", User: &person{ID: "bob", Name: "Bob"}},
		{Type: "resync", From: &cursor{Pos: 3, Changed: 123}},
		{Type: "resync"},
		{Type: "message"},
	} {
		b, err := json.Marshal(ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`null`, `[]`, `{}`, `{"type":"message","message":null}`, `{"type":"update","message":{"pos":"x","changed":"-1"}}`,
		`{"type":"message","message":{"sent_at":"9999-12-31T23:59:59-23:59","edited_at":"0000-01-01T00:00:00+23:59"}}`,
		`{"type":"message","message":{"text":"\ud800\udc00\ud800","hidden":true}}`,
		`{"type":"presence","users":[{"id":"b"},{"id":"a"},{"id":"b"}]}`, `{"type":"typing","user":null}`,
		`{"type":"resync","from":{"pos":-9223372036854775808,"changed":9223372036854775807}}`, `{"type":"TYPING"}`, `{"type":"message"`,
	} {
		f.Add([]byte(s))
	}

	drain := func(c *client) []event {
		c.mu.Lock()
		defer c.mu.Unlock()
		q := c.queue
		c.queue = nil
		return q
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h.mu.Lock()
		rm.remote, rm.online = map[string]announcement{}, nil
		h.mu.Unlock()
		drain(member)
		drain(moderator)

		stop := watchdog(fmt.Sprintf("deliver %q", data))
		h.deliver(tp, pubsub.Event{Kind: pubsub.Message, Topic: tp, Data: data})
		stop()

		var e event
		decErr := json.Unmarshal(data, &e)
		got := map[*client][]event{member: drain(member), moderator: drain(moderator)}
		h.mu.Lock()
		remote := rm.remote
		h.mu.Unlock()
		what := fmt.Sprintf("event %q", truncate(data))
		if decErr != nil {
			if len(got[member])+len(got[moderator])+len(remote) > 0 {
				t.Fatalf("%s: not JSON, yet delivered %+v / recorded %+v", what, got, remote)
			}
			return
		}
		if e.Type == "presence" && e.Node != "node-here" {
			if a, ok := remote[e.Node]; !ok || !slices.Equal(a.users, e.Users) {
				t.Fatalf("%s: recorded %+v", what, remote)
			}
		} else if len(remote) > 0 {
			t.Fatalf("%s: recorded presence %+v", what, remote)
		}
		for c, evs := range got {
			for _, ev := range evs {
				bare := ev
				bare.raw = nil
				switch ev.Type {
				case "message", "update", "typing", "resync":
					if !reflect.DeepEqual(bare, e) || (ev.Type == "message" || ev.Type == "update") && ev.Message == nil {
						t.Fatalf("%s: delivered %+v", what, ev)
					}
				case "presence":
					if ev.Node != "" || !slices.IsSortedFunc(ev.Users, func(a, b person) int { return strings.Compare(a.ID, b.ID) }) ||
						!slices.ContainsFunc(ev.Users, func(p person) bool { return p == local[0] }) ||
						!slices.ContainsFunc(ev.Users, func(p person) bool { return p == local[1] }) {
						t.Fatalf("%s: presence %+v", what, ev)
					}
					for i := range ev.Users {
						if slices.Contains(ev.Users[i+1:], ev.Users[i]) {
							t.Fatalf("%s: presence with %v twice: %+v", what, ev.Users[i], ev.Users)
						}
					}
				default:
					t.Fatalf("%s: delivered an event of type %q", what, ev.Type)
				}
				var before messageJSON
				if ev.Message != nil {
					before = *ev.Message
				}
				v := c.visible(ev)
				if ev.Message != nil && !reflect.DeepEqual(*ev.Message, before) {
					t.Fatalf("%s: visible changed the message the clients share", what)
				}
				// What the writer sends this client: the event as it sees
				// it (the encoding shared by all clients, if it still
				// applies), which must encode.
				b, err := v.encode()
				if err != nil {
					t.Fatalf("%s: the event cannot be written to a client: %v", what, err)
				}
				v.raw = nil
				if want, _ := json.Marshal(v); !bytes.Equal(b, want) {
					t.Fatalf("%s: a client of role %s is sent %s for %s", what, c.tok.Role, b, want)
				}
				var sent event
				if err := json.Unmarshal(b, &sent); err != nil {
					t.Fatalf("%s: sent %s: %v", what, b, err)
				}
				if c == member && sent.Message != nil && sent.Message.Hidden && sent.Message.Text != "" {
					t.Fatalf("%s: a member is sent a hidden text: %s", what, b)
				}
				if v.Message != nil {
					st := &stream{seen: map[string]struct{}{}}
					st.add(v.Message)
					_ = st.have(v.Message)
				}
			}
		}
		switch e.Type {
		case "message", "update":
			if e.Message != nil && (len(got[member]) != 1 || len(got[moderator]) != 1) {
				t.Fatalf("%s: delivered %+v", what, got)
			}
		case "typing", "resync":
			if len(got[member]) != 1 || len(got[moderator]) != 1 {
				t.Fatalf("%s: delivered %+v", what, got)
			}
		}
	})
}
