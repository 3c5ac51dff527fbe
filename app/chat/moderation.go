package chat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/schema"
)

// ErrForbidden is the kind of refusals of what the token's user may not
// do (a member moderating, a banned user posting, editing another's
// message); the API answers 403 with the message.
var ErrForbidden = errors.New("chat: forbidden")

// MaxBan is the longest ban.
const MaxBan = 365 * 24 * time.Hour

// memberKey is the key of a user's membership of a conversation (and of
// their ban from it).
func memberKey(app, conv, user string) string { return app + "/" + conv + "/" + user }

// join records the token's role in its conversation.
func (s *Service) joinMember(ctx context.Context, tok *Token) error {
	m := Member{ID: memberKey(tok.App, tok.Conversation, tok.User), Conversation: scoped(tok.App, tok.Conversation),
		User: scoped(tok.App, tok.User), Role: tok.Role}
	var have Member
	switch err := s.r.Get(ctx, &have, m.ID); {
	case errors.Is(err, repo.ErrNotFound):
		if err := s.r.Insert(ctx, &m); err != nil && !errors.Is(err, repo.ErrConflict) {
			return err
		}
	case err != nil:
		return err
	case have.Role != tok.Role:
		return s.r.Update(ctx, schema.NewChangeset(&have).Put("role", tok.Role))
	}
	return nil
}

// moderator refuses a token that is not a moderator's.
func moderator(tok *Token, what string) error {
	if tok.Role != RoleModerator {
		return fmt.Errorf("%w: only moderators may %s", ErrForbidden, what)
	}
	return nil
}

// message returns the message of the token's conversation stored under
// key.
func (s *Service) message(ctx context.Context, tok *Token, key string) (*Message, error) {
	var m Message
	if err := s.r.Get(ctx, &m, key); err != nil {
		return nil, err
	}
	if m.Conversation != scoped(tok.App, tok.Conversation) {
		return nil, fmt.Errorf("%w: no message %s in this conversation", repo.ErrNotFound, key)
	}
	return &m, nil
}

// SetHidden hides a message (or shows it again): it keeps its place, and
// members see it without its text. Moderators only. It returns the
// message as stored.
func (s *Service) SetHidden(ctx context.Context, tok *Token, key string, hidden bool) (*Message, error) {
	if err := moderator(tok, "hide messages"); err != nil {
		return nil, err
	}
	return s.change(ctx, tok, key, "hide", func(m *Message) (*schema.Changeset, error) {
		return schema.NewChangeset(m).Put("hidden", hidden), nil
	})
}

// Edit replaces the text of one of the token user's own messages, unless
// it is hidden or the user is banned. It returns the message as stored.
func (s *Service) Edit(ctx context.Context, tok *Token, key, text string) (*Message, error) {
	if err := checkText(text); err != nil {
		return nil, err
	}
	if until, err := s.bannedUntil(ctx, tok); err != nil {
		return nil, fmt.Errorf("chat: edit: %w", err)
	} else if !until.IsZero() {
		return nil, fmt.Errorf("%w: banned from this conversation until %s", ErrForbidden, until.Format(time.RFC3339))
	}
	return s.change(ctx, tok, key, "edit", func(m *Message) (*schema.Changeset, error) {
		switch {
		case m.User != scoped(tok.App, tok.User):
			return nil, fmt.Errorf("%w: one can edit only one's own messages", ErrForbidden)
		case m.Hidden:
			return nil, fmt.Errorf("%w: the message is hidden", ErrForbidden)
		}
		now := s.now().UTC()
		return schema.NewChangeset(m).Put("text", text).Put("edited_at", &now), nil
	})
}

// change applies a change to a message of the token's conversation
// against its version: a change that raced another is retried on the
// message as the other left it (so an edit racing a hide finds the
// message hidden, and refuses).
func (s *Service) change(ctx context.Context, tok *Token, key, op string, fn func(*Message) (*schema.Changeset, error)) (*Message, error) {
	for try := 1; ; try++ {
		m, err := s.message(ctx, tok, key)
		if err != nil {
			return nil, fmt.Errorf("chat: %s: %w", op, err)
		}
		cs, err := fn(m)
		if err != nil {
			return nil, err
		}
		changed, err := s.r.NewID()
		if err != nil {
			return nil, fmt.Errorf("chat: %s: %w", op, err)
		}
		cs.Put("changed", int64(changed))
		err = s.r.Update(ctx, cs)
		if errors.Is(err, repo.ErrStale) && try < sendTries {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("chat: %s: %w", op, err)
		}
		return m, nil
	}
}

// Ban keeps a user (the site's id) from posting in the token's
// conversation for d (at most MaxBan). Moderators only, and moderators
// cannot be banned.
func (s *Service) Ban(ctx context.Context, tok *Token, user string, d time.Duration) error {
	if err := moderator(tok, "ban"); err != nil {
		return err
	}
	if !validID(user) || d <= 0 || d > MaxBan {
		return fmt.Errorf("%w: a ban names a user and lasts between 0 and %v", ErrInput, MaxBan)
	}
	key := memberKey(tok.App, tok.Conversation, user)
	var target Member
	switch err := s.r.Get(ctx, &target, key); {
	case err == nil && target.Role == RoleModerator, user == tok.User:
		return fmt.Errorf("%w: moderators cannot be banned", ErrForbidden)
	case err != nil && !errors.Is(err, repo.ErrNotFound):
		return fmt.Errorf("chat: ban: %w", err)
	}
	b := Ban{ID: key, Until: s.now().Add(d).UTC(), By: scoped(tok.App, tok.User)}
	if err := s.r.Insert(ctx, &b, repo.OnConflictReplace(nil, "until", "by")); err != nil {
		if !errors.Is(err, repo.ErrUnsupported) {
			return fmt.Errorf("chat: ban: %w", err)
		}
		// A store without upserts: replace by hand.
		if err := s.r.Insert(ctx, &b); errors.Is(err, repo.ErrConflict) {
			err = s.r.Update(ctx, schema.NewChangeset(&Ban{ID: key}).Put("until", b.Until).Put("by", b.By))
			if err != nil {
				return fmt.Errorf("chat: ban: %w", err)
			}
		} else if err != nil {
			return fmt.Errorf("chat: ban: %w", err)
		}
	}
	return nil
}

// Unban lifts a user's ban from the token's conversation. Moderators only.
func (s *Service) Unban(ctx context.Context, tok *Token, user string) error {
	if err := moderator(tok, "unban"); err != nil {
		return err
	}
	if !validID(user) {
		return fmt.Errorf("%w: bad user id", ErrInput)
	}
	err := s.r.Delete(ctx, &Ban{ID: memberKey(tok.App, tok.Conversation, user)})
	if err != nil && !errors.Is(err, repo.ErrNotFound) {
		return fmt.Errorf("chat: unban: %w", err)
	}
	return nil
}

// bannedUntil returns when the token user's ban ends, or the zero time.
func (s *Service) bannedUntil(ctx context.Context, tok *Token) (time.Time, error) {
	var b Ban
	switch err := s.r.Get(ctx, &b, memberKey(tok.App, tok.Conversation, tok.User)); {
	case errors.Is(err, repo.ErrNotFound):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, err
	case b.Until.After(s.now()):
		return b.Until, nil
	}
	return time.Time{}, nil
}

// MarkRead records that the token's user has read up to position pos
// (it never goes back).
func (s *Service) MarkRead(ctx context.Context, tok *Token, pos int64) error {
	if pos < 0 {
		return fmt.Errorf("%w: negative position", ErrInput)
	}
	m := &Member{ID: memberKey(tok.App, tok.Conversation, tok.User)}
	if err := s.r.Update(ctx, schema.NewChangeset(m).Put("last_read", pos)); err != nil {
		return fmt.Errorf("chat: mark read: %w", err)
	}
	return nil
}

// Unread counts the messages of the token's conversation after the last
// position its user read.
func (s *Service) Unread(ctx context.Context, tok *Token) (int64, error) {
	var m Member
	if err := s.r.Get(ctx, &m, memberKey(tok.App, tok.Conversation, tok.User)); err != nil && !errors.Is(err, repo.ErrNotFound) {
		return 0, fmt.Errorf("chat: unread: %w", err)
	}
	n, err := repo.Count[Message](ctx, s.r, repo.Where("conversation", repo.Eq, scoped(tok.App, tok.Conversation)).
		Where("pos", repo.Gt, m.LastRead))
	if err != nil {
		return 0, fmt.Errorf("chat: unread: %w", err)
	}
	return n, nil
}
