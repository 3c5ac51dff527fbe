package chat

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

var (
	testNow    = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	otherKey   = []byte("fedcba9876543210fedcba9876543210")
)

// testKeys knows app "pk_a" with key "k1" (and "k2" disabled) and app
// "pk_b" with key "k1" (another secret).
func testKeys(_ context.Context, app, kid string) ([]byte, error) {
	switch {
	case app == "pk_a" && kid == "k1":
		return testSecret, nil
	case app == "pk_b" && kid == "k1":
		return otherKey, nil
	}
	return nil, errNoKey
}

func goodToken() *Token {
	return &Token{App: "pk_a", KeyID: "k1", User: "u1", Name: "Ada", Conversation: "c1",
		Role: RoleMember, Participants: []string{"u2"}, Expires: testNow.Add(time.Hour)}
}

func sign(t *testing.T, tok *Token, secret []byte) string {
	t.Helper()
	s, err := SignToken(tok, secret, testNow)
	require.NoError(t, err)
	return s
}

func TestParseToken(t *testing.T) {
	ctx := context.Background()
	got, err := ParseToken(ctx, sign(t, goodToken(), testSecret), testKeys, testNow)
	require.NoError(t, err)
	want := goodToken()
	want.Expires = want.Expires.Truncate(time.Second)
	got.Expires = got.Expires.UTC()
	require.Equal(t, want, got)
}

func TestParseTokenRefusals(t *testing.T) {
	ctx := context.Background()
	withClaims := func(f func(*Token)) func(t *testing.T) string {
		return func(t *testing.T) string {
			tok := goodToken()
			f(tok)
			return sign(t, tok, testSecret)
		}
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for name, make := range map[string]func(t *testing.T) string{
		"forged signature": func(t *testing.T) string { return sign(t, goodToken(), otherKey) },
		"tampered claims": func(t *testing.T) string {
			parts := strings.Split(sign(t, goodToken(), testSecret), ".")
			body, _ := base64.RawURLEncoding.DecodeString(parts[1])
			parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(body), `"member"`, `"moderator"`, 1)))
			return strings.Join(parts, ".")
		},
		"expired":           withClaims(func(tok *Token) { tok.Expires = testNow.Add(-time.Minute) }),
		"lives too long":    withClaims(func(tok *Token) { tok.Expires = testNow.Add(48 * time.Hour) }),
		"unknown key":       withClaims(func(tok *Token) { tok.KeyID = "k2" }),
		"unknown app":       withClaims(func(tok *Token) { tok.App = "pk_zz" }),
		"app B's key id":    withClaims(func(tok *Token) { tok.App = "pk_b" }), // signed with A's secret
		"no user":           withClaims(func(tok *Token) { tok.User = "" }),
		"bad user":          withClaims(func(tok *Token) { tok.User = "u 1" }),
		"no conversation":   withClaims(func(tok *Token) { tok.Conversation = "" }),
		"bad role":          withClaims(func(tok *Token) { tok.Role = "admin" }),
		"no name":           withClaims(func(tok *Token) { tok.Name = "" }),
		"long name":         withClaims(func(tok *Token) { tok.Name = strings.Repeat("é", MaxNameLen+1) }),
		"bad participant":   withClaims(func(tok *Token) { tok.Participants = []string{"<script>"} }),
		"many participants": withClaims(func(tok *Token) { tok.Participants = make([]string, MaxParticipants+1) }),
		"alg none": func(t *testing.T) string {
			j := jwt.NewWithClaims(jwt.SigningMethodNone, claimsOf(goodToken()))
			j.Header["kid"] = "k1"
			s, err := j.SignedString(jwt.UnsafeAllowNoneSignatureType)
			require.NoError(t, err)
			return s
		},
		"alg HS512": func(t *testing.T) string {
			j := jwt.NewWithClaims(jwt.SigningMethodHS512, claimsOf(goodToken()))
			j.Header["kid"] = "k1"
			s, err := j.SignedString(testSecret)
			require.NoError(t, err)
			return s
		},
		"alg RS256": func(t *testing.T) string {
			j := jwt.NewWithClaims(jwt.SigningMethodRS256, claimsOf(goodToken()))
			j.Header["kid"] = "k1"
			s, err := j.SignedString(rsaKey)
			require.NoError(t, err)
			return s
		},
		"no expiry": func(t *testing.T) string {
			c := claimsOf(goodToken())
			c.ExpiresAt = nil
			j := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
			j.Header["kid"] = "k1"
			s, err := j.SignedString(testSecret)
			require.NoError(t, err)
			return s
		},
		"two audiences": func(t *testing.T) string {
			c := claimsOf(goodToken())
			c.Audience = append(c.Audience, "pk_b")
			j := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
			j.Header["kid"] = "k1"
			s, err := j.SignedString(testSecret)
			require.NoError(t, err)
			return s
		},
		"issued in the future": func(t *testing.T) string {
			s, err := SignToken(goodToken(), testSecret, testNow.Add(time.Hour))
			require.NoError(t, err)
			return s
		},
		"oversized": func(*testing.T) string { return strings.Repeat("a", MaxTokenBytes+1) },
		"garbage":   func(*testing.T) string { return "not.a.token" },
		"empty":     func(*testing.T) string { return "" },
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseToken(ctx, make(t), testKeys, testNow)
			require.ErrorIs(t, err, ErrToken)
		})
	}
}

func claimsOf(tok *Token) claims {
	return claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: tok.User, Audience: jwt.ClaimStrings{tok.App},
			ExpiresAt: jwt.NewNumericDate(tok.Expires), IssuedAt: jwt.NewNumericDate(testNow)},
		Name: tok.Name, Conversation: tok.Conversation, Role: tok.Role, Participants: tok.Participants,
	}
}

// FuzzParseToken: tokens come from browsers; parsing never panics, and
// whatever is accepted was signed with the app's secret.
func FuzzParseToken(f *testing.F) {
	s, err := SignToken(goodToken(), testSecret, testNow)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := ParseToken(context.Background(), raw, testKeys, testNow)
		if err != nil {
			if !errors.Is(err, ErrToken) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		if tok.App != "pk_a" && tok.App != "pk_b" {
			t.Fatalf("accepted a token of app %q", tok.App)
		}
	})
}

// A key the store cannot read is not a bad token: ParseToken passes the
// store's error on (a 5xx, which clients retry), and refuses (ErrToken)
// only a key that is missing or disabled.
func TestParseTokenStoreDown(t *testing.T) {
	raw, err := SignToken(goodToken(), testSecret, testNow)
	require.NoError(t, err)
	down := errors.New("store down")
	_, err = ParseToken(t.Context(), raw, func(context.Context, string, string) ([]byte, error) { return nil, down }, testNow)
	require.ErrorIs(t, err, down)
	require.NotErrorIs(t, err, ErrToken)
	_, err = ParseToken(t.Context(), raw, func(context.Context, string, string) ([]byte, error) { return nil, errNoKey }, testNow)
	require.ErrorIs(t, err, ErrToken)
}
