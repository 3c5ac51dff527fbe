package chat

import (
	"time"

	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/maypok86/otter/v2"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/schema"
)

// SecretBytes is the size of a key's secret.
const SecretBytes = 32

func randomID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// CreateApp creates an app and its first key, and returns both; the
// key's secret is for the site's backend, which signs its users' tokens
// with it.
func (s *Service) CreateApp(ctx context.Context, name string) (*App, *AppKey, error) {
	if name == "" || len(name) > 200 {
		return nil, nil, fmt.Errorf("%w: an app's name is 1–200 characters", ErrInput)
	}
	a := &App{ID: randomID("pk_", 12), Name: name}
	if err := s.r.Insert(ctx, a); err != nil {
		return nil, nil, fmt.Errorf("chat: create app: %w", err)
	}
	k, err := s.AddKey(ctx, a.ID)
	if err != nil {
		return nil, nil, err
	}
	return a, k, nil
}

// AddKey adds an enabled key to an app, for rotating keys without
// downtime: add one, move the site to it, disable the old one.
func (s *Service) AddKey(ctx context.Context, app string) (*AppKey, error) {
	var a App
	if err := s.r.Get(ctx, &a, app); err != nil {
		return nil, fmt.Errorf("chat: add key: %w", err)
	}
	kid := randomID("k", 6)
	secret := make([]byte, SecretBytes)
	_, _ = rand.Read(secret)
	k := &AppKey{ID: scoped(app, kid), App: app, KeyID: kid, Secret: secret, Enabled: true}
	if err := s.r.Insert(ctx, k); err != nil {
		return nil, fmt.Errorf("chat: add key: %w", err)
	}
	return k, nil
}

// SetKeyEnabled enables or disables one of an app's keys; tokens signed
// with a disabled key are refused.
func (s *Service) SetKeyEnabled(ctx context.Context, app, keyID string, enabled bool) error {
	var k AppKey
	if err := s.r.Get(ctx, &k, scoped(app, keyID)); err != nil {
		return fmt.Errorf("chat: set key: %w", err)
	}
	// A changeset writes what differs from the struct: so, from the
	// stored one.
	if err := s.r.Update(ctx, schema.NewChangeset(&k).Put("enabled", enabled)); err != nil {
		return fmt.Errorf("chat: set key: %w", err)
	}
	s.keys.Invalidate(k.ID)
	return nil
}

// Keys returns the app's keys.
func (s *Service) Keys(ctx context.Context, app string) ([]AppKey, error) {
	ks, err := repo.All[AppKey](ctx, s.r, repo.Where("app", repo.Eq, app).OrderBy("key_id"))
	if err != nil {
		return nil, fmt.Errorf("chat: keys: %w", err)
	}
	return ks, nil
}

// errNoKey is why a token's key is refused.
// It is an ErrToken; any other error of KeyFunc is the store's.
var errNoKey = fmt.Errorf("%w: no enabled key of that id", ErrToken)

// keyTTL is how long a node trusts a key it read: a key disabled on
// another node is refused here within it (at once on this node).
const keyTTL = 5 * time.Second

// KeyFunc returns the KeyFunc that ParseToken verifies tokens with: the
// secret of an enabled key of the app. Every request checks a token, so
// keys are read from the store at most once per keyTTL per node (and once
// at a time).
func (s *Service) KeyFunc() KeyFunc {
	return func(ctx context.Context, app, keyID string) ([]byte, error) {
		k, err := s.keys.Get(ctx, scoped(app, keyID), otter.LoaderFunc[string, AppKey](func(ctx context.Context, id string) (AppKey, error) {
			var k AppKey
			if err := s.r.Get(ctx, &k, id); errors.Is(err, repo.ErrNotFound) {
				return k, otter.ErrNotFound
			} else if err != nil {
				return k, err
			}
			return k, nil
		}))
		if errors.Is(err, otter.ErrNotFound) {
			return nil, errNoKey
		}
		if err != nil {
			return nil, err
		}
		if !k.Enabled || k.App != app {
			return nil, errNoKey
		}
		return k.Secret, nil
	}
}

// CheckSecret reports whether secret is that of an enabled key of the
// app (for the site's backend, which calls the API with it), in constant
// time: ErrToken if not, or the store's error if it could not tell.
func (s *Service) CheckSecret(ctx context.Context, app, keyID string, secret []byte) error {
	want, err := s.KeyFunc()(ctx, app, keyID)
	switch {
	case errors.Is(err, errNoKey):
		return fmt.Errorf("%w: bad app key", ErrToken)
	case err != nil:
		return fmt.Errorf("chat: app key %s/%s: %w", app, keyID, err) // the store's trouble, not the caller's
	case !hmac.Equal(want, secret):
		return fmt.Errorf("%w: bad app key", ErrToken)
	}
	return nil
}

// AppModerator returns the token of the app's backend moderating a
// conversation with the secret of one of the app's keys: a moderator
// with no user id (so it bans anyone but moderators, and is banned by
// no one). Check the secret first (CheckSecret).
func (s *Service) AppModerator(app, keyID, conv string) (*Token, error) {
	if !validID(conv) {
		return nil, fmt.Errorf("%w: bad conversation id", ErrInput)
	}
	return &Token{App: app, KeyID: keyID, Name: "moderator (app key " + keyID + ")", Conversation: conv,
		Role: RoleModerator, Expires: s.now().Add(time.Minute)}, nil
}

// EnsureApp returns the app with the given id and an enabled key of it,
// creating either if missing (for a demo app whose id is fixed).
func (s *Service) EnsureApp(ctx context.Context, id, name string) (*App, *AppKey, error) {
	if !validID(id) {
		return nil, nil, fmt.Errorf("%w: bad app id %q", ErrInput, id)
	}
	a := &App{ID: id, Name: name}
	if err := s.r.Get(ctx, a, id); errors.Is(err, repo.ErrNotFound) {
		a = &App{ID: id, Name: name}
		if err := s.r.Insert(ctx, a); err != nil && !errors.Is(err, repo.ErrConflict) {
			return nil, nil, fmt.Errorf("chat: ensure app: %w", err)
		}
	} else if err != nil {
		return nil, nil, fmt.Errorf("chat: ensure app: %w", err)
	}
	keys, err := s.Keys(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	for i := range keys {
		if keys[i].Enabled {
			return a, &keys[i], nil
		}
	}
	k, err := s.AddKey(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return a, k, nil
}
