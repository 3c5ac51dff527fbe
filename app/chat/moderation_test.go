package chat

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo"
)

func moderatorToken(user string) *Token {
	t := member(user)
	t.Role = RoleModerator
	return t
}

func TestModeration(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Service) {
		ctx := t.Context()
		alice, mod, mod2 := member("alice"), moderatorToken("mod"), moderatorToken("mod2")
		for _, tok := range []*Token{alice, mod, mod2} {
			require.NoError(t, s.Join(ctx, tok))
		}
		m, err := s.Send(ctx, alice, "a1", "rude words")
		require.NoError(t, err)

		// Hiding is for moderators.
		_, err = s.SetHidden(ctx, alice, m.Key, true)
		require.ErrorIs(t, err, ErrForbidden)
		_, err = s.SetHidden(ctx, mod, m.Key, true)
		require.NoError(t, err)
		page, err := s.History(ctx, alice, 0, 10)
		require.NoError(t, err)
		require.True(t, page[0].Hidden)
		require.Empty(t, page[0].Text)
		_, err = s.Edit(ctx, alice, m.Key, "nicer words")
		require.ErrorIs(t, err, ErrForbidden, "a hidden message cannot be edited")
		_, err = s.SetHidden(ctx, mod, m.Key, false)
		require.NoError(t, err)
		_, err = s.SetHidden(ctx, mod, "no-such-key", true)
		require.ErrorIs(t, err, repo.ErrNotFound)

		// Editing is for one's own messages.
		_, err = s.Edit(ctx, mod, m.Key, "mod's words")
		require.ErrorIs(t, err, ErrForbidden)
		edited, err := s.Edit(ctx, alice, m.Key, "nicer words")
		require.NoError(t, err)
		require.NotNil(t, edited.EditedAt)
		page, err = s.History(ctx, alice, 0, 10)
		require.NoError(t, err)
		require.Equal(t, "nicer words", page[0].Text)

		// Bans: moderators only, never of moderators; a banned user cannot
		// post until the ban ends or is lifted.
		require.ErrorIs(t, s.Ban(ctx, alice, "mod", time.Hour), ErrForbidden)
		require.ErrorIs(t, s.Ban(ctx, mod, "mod2", time.Hour), ErrForbidden)
		require.ErrorIs(t, s.Ban(ctx, mod, "mod", time.Hour), ErrForbidden)
		require.ErrorIs(t, s.Ban(ctx, mod, "alice", 0), ErrInput)
		require.ErrorIs(t, s.Ban(ctx, mod, "alice", 2*MaxBan), ErrInput)
		require.NoError(t, s.Ban(ctx, mod, "alice", time.Hour))
		require.NoError(t, s.Ban(ctx, mod, "alice", 2*time.Hour), "a second ban replaces the first")
		_, err = s.Send(ctx, alice, "a2", "let me in")
		require.ErrorIs(t, err, ErrForbidden)
		again, err := s.Send(ctx, alice, "a1", "rude words")
		require.NoError(t, err, "a retry of a send stored before the ban still answers")
		require.Equal(t, m.Key, again.Key)
		require.NoError(t, s.Unban(ctx, mod, "alice"))
		_, err = s.Send(ctx, alice, "a2", "thanks")
		require.NoError(t, err)
		// A ban that has run out no longer counts.
		require.NoError(t, s.Ban(ctx, mod, "alice", time.Hour))
		s.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		_, err = s.Send(ctx, alice, "a3", "back")
		require.NoError(t, err)
	})
}

func TestUnread(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Service) {
		ctx := t.Context()
		alice, bob := member("alice"), member("bob")
		require.NoError(t, s.Join(ctx, alice))
		require.NoError(t, s.Join(ctx, bob))
		var last *Message
		for i := range 3 {
			m, err := s.Send(ctx, alice, "u"+string(rune('0'+i)), "hi")
			require.NoError(t, err)
			last = m
		}
		n, err := s.Unread(ctx, bob)
		require.NoError(t, err)
		require.Equal(t, int64(3), n)
		require.NoError(t, s.MarkRead(ctx, bob, last.Pos))
		require.NoError(t, s.MarkRead(ctx, bob, 0), "marking an older position changes nothing")
		n, err = s.Unread(ctx, bob)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}
