package chat

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-go/strata/repo/driver"

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

// An edit racing a hide: whichever commits second sees the first (they
// are checked against the message's version), so the hide is never lost,
// and the later of the two returns the greater version — the state that
// clients applying the highest version end with.
func TestEditRacingHide(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Service) {
		ctx := t.Context()
		alice, mod := member("alice"), moderatorToken("mod")
		require.NoError(t, s.Join(ctx, mod))
		for i := range 20 {
			m, err := s.Send(ctx, alice, fmt.Sprint("race", i), "original")
			require.NoError(t, err)
			var edited, hidden *Message
			var editErr, hideErr error
			var wg sync.WaitGroup
			wg.Go(func() { edited, editErr = s.Edit(ctx, alice, m.Key, "edited") })
			wg.Go(func() { hidden, hideErr = s.SetHidden(ctx, mod, m.Key, true) })
			wg.Wait()
			require.NoError(t, hideErr)
			var final Message
			require.NoError(t, s.r.Get(ctx, &final, m.Key))
			require.True(t, final.Hidden, "a hide was lost to an edit")
			require.Equal(t, final.Version, hidden.Version, "the hide is the last change, or its version would be lower")
			if editErr == nil {
				require.False(t, edited.Hidden)
				if s.r.Capabilities().Has(driver.CapConditionalWrites) {
					require.Less(t, edited.Version, hidden.Version, "the edit came first, so its version is lower")
				} else {
					// Riak: concurrent changes both succeed and merge;
					// their versions may tie, and a tie goes to hidden.
					require.LessOrEqual(t, edited.Version, hidden.Version)
				}
			} else {
				require.ErrorIs(t, editErr, ErrForbidden, "the edit came second and found the message hidden")
			}
		}
	})
}

// A client that was away catches up with the edits and hides made
// meanwhile by their change cursor, in pages, and only with changes:
// messages sent and never changed are Since's.
func TestUpdatesCatchUp(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Service) {
		ctx := t.Context()
		alice, mod := member("alice"), moderatorToken("mod")
		require.NoError(t, s.Join(ctx, alice))
		require.NoError(t, s.Join(ctx, mod))
		var sent []*Message
		for i := range 5 {
			m, err := s.Send(ctx, alice, fmt.Sprintf("u%d", i), fmt.Sprintf("text %d", i))
			require.NoError(t, err)
			sent = append(sent, m)
		}
		// What a client has seen: every message as sent.
		seen := sent[len(sent)-1].Cursor()
		ms, next, more, err := s.Updates(ctx, alice, seen)
		require.NoError(t, err)
		require.Empty(t, ms, "nothing has changed")
		require.False(t, more)
		require.Equal(t, seen, next)

		// Away: message 1 is edited, message 3 hidden, message 1 edited again.
		_, err = s.Edit(ctx, alice, sent[1].Key, "edited once")
		require.NoError(t, err)
		_, err = s.SetHidden(ctx, mod, sent[3].Key, true)
		require.NoError(t, err)
		last, err := s.Edit(ctx, alice, sent[1].Key, "edited twice")
		require.NoError(t, err)
		_, err = s.Send(ctx, alice, "u5", "a new message is not an update")
		require.NoError(t, err)

		// Back: from the overlap window before what it saw.
		ms, next, _, err = s.Updates(ctx, alice, s.UpdatesFrom(seen))
		require.NoError(t, err)
		got := map[string]Message{}
		for _, m := range ms {
			if have, ok := got[m.Key]; !ok || m.Version > have.Version {
				got[m.Key] = m
			}
		}
		require.Len(t, got, 2, "messages 1 and 3, each once at its latest")
		require.Equal(t, "edited twice", got[sent[1].Key].Text)
		require.Equal(t, last.Version, got[sent[1].Key].Version)
		require.True(t, got[sent[3].Key].Hidden)
		require.Empty(t, got[sent[3].Key].Text, "a member is not shown a hidden text")
		require.GreaterOrEqual(t, next, last.Changed)
		ms, _, _, err = s.Updates(ctx, alice, next)
		require.NoError(t, err)
		require.Empty(t, ms, "nothing changed after the cursor returned")
	})
}
