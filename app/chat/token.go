package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// A Token is what an integrating site's backend tells the chat about one
// of its users: who they are, which conversation they may join and as
// what. The site seals it with one of its app's secret keys (JWT, HS256,
// with the key's id in the "kid" header) and hands it to the user's
// browser; the chat trusts nothing else the browser says.
type Token struct {
	// App is the public key of the app the token is for (the JWT "aud").
	App string
	// KeyID names the app key that signed it (the JWT "kid" header).
	KeyID string
	// User is the site's id of the user ("sub"), and Name their display
	// name ("name").
	User, Name string
	// Conversation is the conversation the user may join ("conv").
	Conversation string
	// Role is RoleMember or RoleModerator ("role").
	Role Role
	// Participants are the other users the site says belong to the
	// conversation ("participants"), for its unread counts and presence.
	Participants []string
	// Expires is when the token stops being accepted ("exp").
	Expires time.Time
}

// Role is what a user may do in a conversation.
type Role string

// The roles.
const (
	RoleMember    Role = "member"
	RoleModerator Role = "moderator"
)

// Limits on a token's contents.
const (
	MaxTokenBytes    = 4096
	MaxIDLen         = 128 // user, conversation, app and key ids
	MaxNameLen       = 100 // characters of a display name
	MaxParticipants  = 100
	MaxTokenLifetime = 24 * time.Hour // between iat (or now) and exp
	tokenLeeway      = 5 * time.Second
)

// ErrToken is the kind of every token refusal (errors.Is); the message
// says why, for logs, and the API answers 401 without it.
var ErrToken = errors.New("chat: invalid token")

// KeyFunc returns the secret of an app's key for verifying a token: an
// ErrToken if the app has no such key or the key is disabled, any other
// error if it could not tell (a store that does not answer), which
// ParseToken passes on as it is rather than as a refusal.
type KeyFunc func(ctx context.Context, app, keyID string) ([]byte, error)

// claims are the JWT claims of a Token.
type claims struct {
	jwt.RegisteredClaims
	Name         string   `json:"name"`
	Conversation string   `json:"conv"`
	Role         Role     `json:"role"`
	Participants []string `json:"participants,omitempty"`
}

// ParseToken verifies a token and returns what it says. It accepts only
// HS256, requires an expiry no further than MaxTokenLifetime ahead, and
// an audience (the app) and key id that keys knows; anything else is an
// error wrapping ErrToken.
func ParseToken(ctx context.Context, raw string, keys KeyFunc, now time.Time) (*Token, error) {
	if len(raw) > MaxTokenBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrToken, MaxTokenBytes)
	}
	var c claims
	var app, kid string
	var keyErr error
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	_, err := parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		kid, _ = t.Header["kid"].(string)
		if len(c.Audience) != 1 {
			return nil, errors.New("want exactly one audience: the app")
		}
		app = c.Audience[0]
		if !validID(app) || !validID(kid) {
			return nil, errors.New("bad app or key id")
		}
		secret, err := keys(ctx, app, kid)
		if err != nil {
			keyErr = err
			return nil, err
		}
		return secret, nil
	})
	if keyErr != nil && !errors.Is(keyErr, ErrToken) {
		// The store could not say (a 5xx): the token may be good.
		return nil, fmt.Errorf("chat: the token's key %s/%s: %w", app, kid, keyErr)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrToken, err)
	}
	tok := &Token{App: app, KeyID: kid, User: c.Subject, Name: c.Name, Conversation: c.Conversation,
		Role: c.Role, Participants: c.Participants, Expires: c.ExpiresAt.Time}
	if err := tok.check(c, now); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrToken, err)
	}
	return tok, nil
}

// check validates a verified token's contents.
func (t *Token) check(c claims, now time.Time) error {
	switch {
	case !validID(t.User):
		return errors.New("bad or missing sub (the user id)")
	case !validID(t.Conversation):
		return errors.New("bad or missing conv (the conversation id)")
	case t.Role != RoleMember && t.Role != RoleModerator:
		return fmt.Errorf("role %q is neither member nor moderator", t.Role)
	case t.Name == "" || utf8.RuneCountInString(t.Name) > MaxNameLen || !utf8.ValidString(t.Name):
		return fmt.Errorf("name must be 1–%d characters of UTF-8", MaxNameLen)
	case len(t.Participants) > MaxParticipants:
		return fmt.Errorf("more than %d participants", MaxParticipants)
	case t.Expires.After(now.Add(MaxTokenLifetime + tokenLeeway)):
		return fmt.Errorf("expires more than %v ahead", MaxTokenLifetime)
	}
	if c.IssuedAt != nil && c.IssuedAt.After(now.Add(tokenLeeway)) {
		return errors.New("issued in the future")
	}
	if slices.ContainsFunc(t.Participants, func(p string) bool { return !validID(p) }) {
		return errors.New("bad participant id")
	}
	return nil
}

// SignToken seals t with secret, as an integrating site's backend does
// (this package uses it for its admin tools, demo page and tests).
func SignToken(t *Token, secret []byte, now time.Time) (string, error) {
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   t.User,
			Audience:  jwt.ClaimStrings{t.App},
			ExpiresAt: jwt.NewNumericDate(t.Expires),
			IssuedAt:  jwt.NewNumericDate(now),
		},
		Name: t.Name, Conversation: t.Conversation, Role: t.Role, Participants: t.Participants,
	}
	j := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	j.Header["kid"] = t.KeyID
	return j.SignedString(secret)
}

// validID reports whether s is an id the chat accepts from outside: 1 to
// MaxIDLen bytes of letters, digits and "-_.:@".
func validID(s string) bool {
	if s == "" || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':' || c == '@':
		default:
			return false
		}
	}
	return true
}
