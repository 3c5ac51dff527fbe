package chat

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/app/internal/apptest"
	"github.com/strata-go/strata/repo"
)

func TestAppsAndKeys(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Service) {
		ctx := t.Context()
		app, k1, err := s.CreateApp(ctx, "Acme")
		require.NoError(t, err)
		other, ko, err := s.CreateApp(ctx, "Other")
		require.NoError(t, err)
		tok := &Token{App: app.ID, KeyID: k1.KeyID, User: "u1", Name: "Ada", Conversation: "c1", Role: RoleMember,
			Expires: time.Now().Add(time.Hour)}
		raw, err := SignToken(tok, k1.Secret, time.Now())
		require.NoError(t, err)
		got, err := ParseToken(ctx, raw, s.KeyFunc(), time.Now())
		require.NoError(t, err)
		require.Equal(t, app.ID, got.App)

		// App B's key does not sign app A's tokens.
		forged := *tok
		forged.KeyID = ko.KeyID
		raw2, err := SignToken(&forged, ko.Secret, time.Now())
		require.NoError(t, err)
		_, err = ParseToken(ctx, raw2, s.KeyFunc(), time.Now())
		require.ErrorIs(t, err, ErrToken)
		require.NotEqual(t, app.ID, other.ID)

		// Rotation: a second key works alongside; disabling the first
		// refuses its tokens and keeps the second's.
		k2, err := s.AddKey(ctx, app.ID)
		require.NoError(t, err)
		tok2 := *tok
		tok2.KeyID = k2.KeyID
		raw3, err := SignToken(&tok2, k2.Secret, time.Now())
		require.NoError(t, err)
		require.NoError(t, s.SetKeyEnabled(ctx, app.ID, k1.KeyID, false))
		_, err = ParseToken(ctx, raw, s.KeyFunc(), time.Now())
		require.ErrorIs(t, err, ErrToken, "a disabled key's token")
		_, err = ParseToken(ctx, raw3, s.KeyFunc(), time.Now())
		require.NoError(t, err)
		keys, err := s.Keys(ctx, app.ID)
		require.NoError(t, err)
		require.Len(t, keys, 2)

		require.NoError(t, s.CheckSecret(ctx, app.ID, k2.KeyID, k2.Secret))
		require.ErrorIs(t, s.CheckSecret(ctx, app.ID, k1.KeyID, k1.Secret), ErrToken, "disabled")
		require.ErrorIs(t, s.CheckSecret(ctx, app.ID, k2.KeyID, []byte("guess")), ErrToken)
		require.ErrorIs(t, s.CheckSecret(ctx, other.ID, k2.KeyID, k2.Secret), ErrToken, "another app's key id")
		_, _, err = s.CreateApp(ctx, "")
		require.ErrorIs(t, err, ErrInput)
	})
}

// A store that cannot answer is not a wrong secret: the caller learns
// the store's error (a 5xx), not ErrToken (a 401).
func TestCheckSecretStoreDown(t *testing.T) {
	r := apptest.Migrated(t, "memory", Migrations())
	s := New(r, Options{})
	ctx := t.Context()
	app, k, err := s.CreateApp(ctx, "Acme")
	require.NoError(t, err)
	require.NoError(t, r.Close())
	err = s.CheckSecret(ctx, app.ID, k.KeyID, k.Secret)
	require.ErrorIs(t, err, repo.ErrClosed)
	require.NotErrorIs(t, err, ErrToken)
}
