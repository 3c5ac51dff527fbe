package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/app/chat"
)

// admin sends a request of the app's backend, authenticated with the
// key's secret, and decodes the answer into out.
func (f *fixture) admin(method, path, user, secret string, body, out any) int {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(f.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, f.srv.URL+path, rd)
	require.NoError(f.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, secret)
	}
	resp, err := f.client.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	if resp.StatusCode >= 400 {
		var e map[string]string
		require.NoError(f.t, json.Unmarshal(raw, &e), "an error answer is JSON: %s", raw)
		require.NotEmpty(f.t, e["error"])
	}
	if out != nil && len(raw) > 0 {
		require.NoError(f.t, json.Unmarshal(raw, out), "%s", raw)
	}
	return resp.StatusCode
}

// The site's backend moderates with its app's secret: it hides, shows,
// bans and unbans in any conversation of its app, and nowhere else.
func TestModerationBySecret(t *testing.T) {
	f := newFixture(t, Options{})
	alice := f.token(false, "alice", "c1", chat.RoleMember)
	var m messageJSON
	st, _ := f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "x1", Text: "rude"}, &m)
	require.Equal(t, http.StatusOK, st)
	userA, secretA := f.appA.ID+"/"+f.keyA.KeyID, hex.EncodeToString(f.keyA.Secret)
	base := "/v1/admin/conversations/c1"

	require.Equal(t, http.StatusOK, f.admin("POST", base+"/messages/"+m.ID+"/hide", userA, secretA, nil, nil))
	var p page
	f.do("GET", "/v1/messages", alice, nil, &p)
	require.True(t, p.Messages[0].Hidden)
	require.Empty(t, p.Messages[0].Text, "members do not see a hidden text")
	require.Equal(t, http.StatusOK, f.admin("GET", base+"/messages", userA, secretA, nil, &p))
	require.Equal(t, "rude", p.Messages[0].Text, "the app's backend does")
	require.Equal(t, http.StatusOK, f.admin("POST", base+"/messages/"+m.ID+"/unhide", userA, secretA, nil, nil))

	require.Equal(t, http.StatusNoContent, f.admin("POST", base+"/bans", userA, secretA, map[string]any{"user": "alice", "seconds": 60}, nil))
	st, _ = f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "x2", Text: "again"}, nil)
	require.Equal(t, http.StatusForbidden, st)
	f.do("POST", "/v1/join", f.token(false, "mod", "c1", chat.RoleModerator), nil, nil)
	require.Equal(t, http.StatusForbidden, f.admin("POST", base+"/bans", userA, secretA, map[string]any{"user": "mod", "seconds": 60}, nil),
		"moderators cannot be banned, by the app either")
	require.Equal(t, http.StatusNoContent, f.admin("DELETE", base+"/bans/alice", userA, secretA, nil, nil))
	st, _ = f.do("POST", "/v1/messages", alice, sendRequest{ClientID: "x2", Text: "again"}, nil)
	require.Equal(t, http.StatusOK, st)

	// Refusals.
	userB, secretB := f.appB.ID+"/"+f.keyB.KeyID, hex.EncodeToString(f.keyB.Secret)
	for name, c := range map[string]struct {
		user, secret string
		path         string
		status       int
	}{
		"no credentials":          {"", "", base + "/messages", http.StatusUnauthorized},
		"wrong secret":            {userA, secretB, base + "/messages", http.StatusUnauthorized},
		"secret not hex":          {userA, "zz", base + "/messages", http.StatusUnauthorized},
		"no key id":               {f.appA.ID, secretA, base + "/messages", http.StatusUnauthorized},
		"app B's key for app A":   {f.appA.ID + "/" + f.keyB.KeyID, secretB, base + "/messages", http.StatusUnauthorized},
		"bad conversation id":     {userA, secretA, "/v1/admin/conversations/%3Cx%3E/messages", http.StatusBadRequest},
		"app B hides A's message": {userB, secretB, base + "/messages/" + m.ID + "/hide", http.StatusNotFound},
	} {
		method := "GET"
		if c.status == http.StatusNotFound {
			method = "POST"
		}
		require.Equal(t, c.status, f.admin(method, c.path, c.user, c.secret, nil, nil), name)
	}
	require.Equal(t, http.StatusOK, f.admin("GET", base+"/messages", userB, secretB, nil, &p))
	require.Empty(t, p.Messages, "app B sees nothing of app A's conversation of the same id")

	// A disabled key moderates no more (once the key cache has it: at
	// once on this node).
	require.NoError(t, f.svc.SetKeyEnabled(t.Context(), f.appA.ID, f.keyA.KeyID, false))
	require.Equal(t, http.StatusUnauthorized, f.admin("GET", base+"/messages", userA, secretA, nil, nil))
}
