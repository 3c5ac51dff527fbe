package chat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/maypok86/otter/v2"

	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/repo/driver"
	"github.com/strata-go/strata/schema"
	"github.com/strata-go/strata/snowflake"
)

// Limits of a message.
const (
	MaxText    = 4096 // characters
	MaxHistory = 200  // messages a page holds at most
)

// ErrInput is the kind of refusals of bad input (a message's text, a
// client id); the API answers 400 with the message.
var ErrInput = errors.New("chat: invalid input")

// ErrUnavailable is the kind of refusals by a node that cannot serve a
// request now when another node may (it cannot draw message ids, its
// node id lease being in doubt); the API answers 503.
var ErrUnavailable = errors.New("chat: unavailable on this node")

// DefaultWindow is the overlap window of stores without gap-free
// positions: how late a message may commit after its id was drawn.
const DefaultWindow = 5 * time.Second

// sendTries bounds the retries of a send whose transaction lost a race.
const sendTries = 30

// Service is the chat over a Strata repo: users, conversations and
// messages, with positions a client can catch up from without a gap.
//
// # Positions
//
// Every message has a position (Message.Pos) in its conversation, and a
// client that saw position p asks for what came after it. A position must
// never be skipped by a message that commits late. On stores with
// transactions (SQL, a single Redis server) a send takes the next value
// of the conversation's counter and inserts the message in one
// transaction, so positions commit in order and without holes: "after p"
// is exact. On the others (Riak, Redis Cluster) the position is the
// message's snowflake id, which orders messages by time but may be
// overtaken by a message of an earlier id that commits a little later;
// there "after p" re-reads an overlap window (Options.Window) before p,
// and the client drops what it already has by id.
type Service struct {
	r       *repo.Repo
	keys    *otter.Cache[string, AppKey] // apps' keys, read recently
	now     func() time.Time
	gapFree bool
	window  time.Duration
	turns   turns // sends of a conversation, into their transactions
}

// Options configure a Service.
type Options struct {
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
	// Window is the overlap window of stores without gap-free positions
	// (0: DefaultWindow).
	Window time.Duration
}

// New returns a Service over r, whose store holds the chat's schema (see
// Migrations).
func New(r *repo.Repo, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	return &Service{r: r, now: o.Now, gapFree: gapFree(r), window: o.Window,
		keys: otter.Must(&otter.Options[string, AppKey]{MaximumSize: 10_000, ExpiryCalculator: otter.ExpiryWriting[string, AppKey](keyTTL)})}
}

// gapFree reports whether a transaction can take a conversation's next
// position and insert the message (a store with transactions holding
// both; not so when a Router sends messages to an AP store).
func gapFree(r *repo.Repo) bool {
	m, err1 := repo.CapabilitiesOf[Message](r)
	c, err2 := repo.CapabilitiesOf[Conversation](r)
	return err1 == nil && err2 == nil && m.Has(driver.CapTransactions) && c.Has(driver.CapTransactions)
}

// Close stops the goroutine of the service's key cache (which otherwise
// stops once the service is unreachable). The repo stays open.
func (s *Service) Close() { s.keys.StopAllGoroutines() }

// GapFree reports whether positions are a gap-free sequence (else they
// are ids, read with an overlap window).
func (s *Service) GapFree() bool { return s.gapFree }

// scoped joins an app and an id of the site's into a stored key.
func scoped(app, id string) string { return app + "/" + id }

// messageKey is the primary key of the message a user sends with a client
// message id: the same on every retry.
func messageKey(app, conv, user, clientID string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{app, conv, user, clientID}, "\x00")))
	return hex.EncodeToString(h[:])
}

// Join finds or creates the user and the conversation a token names
// (idempotently: concurrent first joins create each once), updating the
// user's display name if the token changed it.
func (s *Service) Join(ctx context.Context, tok *Token) error {
	u := User{ID: scoped(tok.App, tok.User), App: tok.App, Name: tok.Name}
	var have User
	switch err := s.r.Get(ctx, &have, u.ID); {
	case errors.Is(err, repo.ErrNotFound):
		if err := s.r.Insert(ctx, &u); err != nil && !errors.Is(err, repo.ErrConflict) {
			return fmt.Errorf("chat: join: %w", err)
		}
	case err != nil:
		return fmt.Errorf("chat: join: %w", err)
	case have.Name != tok.Name:
		if err := s.r.Update(ctx, schema.NewChangeset(&have).Put("name", tok.Name)); err != nil {
			return fmt.Errorf("chat: join: %w", err)
		}
	}
	c := Conversation{ID: scoped(tok.App, tok.Conversation), App: tok.App}
	var conv Conversation
	if err := s.r.Get(ctx, &conv, c.ID); errors.Is(err, repo.ErrNotFound) {
		if err := s.r.Insert(ctx, &c); err != nil && !errors.Is(err, repo.ErrConflict) {
			return fmt.Errorf("chat: join: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("chat: join: %w", err)
	}
	if err := s.joinMember(ctx, tok); err != nil {
		return fmt.Errorf("chat: join: %w", err)
	}
	return nil
}

// Send stores a message from the token's user in its conversation and
// returns it. A send retried with the same client id returns the message
// the first attempt stored, whatever became of that attempt's reply.
func (s *Service) Send(ctx context.Context, tok *Token, clientID, text string) (*Message, error) {
	if err := checkText(text); err != nil {
		return nil, err
	}
	if !validID(clientID) {
		return nil, fmt.Errorf("%w: the client message id must be 1–%d letters, digits or -_.:@", ErrInput, MaxIDLen)
	}
	m := &Message{
		Key:          messageKey(tok.App, tok.Conversation, tok.User, clientID),
		Conversation: scoped(tok.App, tok.Conversation),
		User:         scoped(tok.App, tok.User),
		Name:         tok.Name,
		ClientID:     clientID,
		Text:         text,
	}
	if !s.gapFree {
		// A retry is answered before anything else; with gap-free
		// positions the transaction's insert finds it (a conflict).
		if prev, err := s.existing(ctx, s.r, m.Key); prev != nil || err != nil {
			return prev, err
		}
	}
	if until, err := s.bannedUntil(ctx, tok); err != nil {
		return nil, fmt.Errorf("chat: send: %w", err)
	} else if !until.IsZero() {
		// A retry of a message stored before the ban still gets its
		// answer.
		if prev, err := s.existing(ctx, s.r, m.Key); prev != nil || err != nil {
			return prev, err
		}
		return nil, fmt.Errorf("%w: banned from this conversation until %s", ErrForbidden, until.Format(time.RFC3339))
	}
	id, err := s.r.NewID()
	if err != nil {
		return nil, fmt.Errorf("chat: send: %w", err)
	}
	m.ID = int64(id)
	if !s.gapFree {
		m.Pos = m.ID
		if err := s.r.Insert(ctx, m); errors.Is(err, repo.ErrConflict) {
			return s.retried(ctx, m.Key, err)
		} else if err != nil {
			return nil, fmt.Errorf("chat: send: %w", err)
		}
		m.Fresh = true
		return m, nil
	}
	for try := 1; ; try++ {
		err := s.inTurn(ctx, m.Conversation, func() error {
			return s.r.Transaction(ctx, func(tx *repo.Repo) error {
				// A retry's insert conflicts with its first attempt
				// (the key is the client's id), and is answered below.
				conv := &Conversation{ID: m.Conversation}
				if err := tx.Update(ctx, schema.NewChangeset(conv).Increment("seq", 1)); err != nil {
					return err
				}
				m.Pos = conv.Seq
				return tx.Insert(ctx, m)
			})
		})
		switch {
		case err == nil:
			m.Fresh = true
			return m, nil
		case errors.Is(err, repo.ErrConflict):
			// A retry, or a concurrent attempt of the same send, won.
			return s.retried(ctx, m.Key, err)
		case errors.Is(err, repo.ErrSerialization) && try < sendTries:
			// Another send of the conversation committed first (an
			// optimistic store): back off a random while and retry.
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(try) * int64(time.Millisecond)))):
			case <-ctx.Done():
				return nil, fmt.Errorf("chat: send: %w", ctx.Err())
			}
			continue
		case errors.Is(err, repo.ErrNotFound) && try < sendTries:
			// The conversation's first message: create it.
			if err := s.Join(ctx, tok); err != nil {
				return nil, err
			}
			continue
		}
		return nil, fmt.Errorf("chat: send: %w", err)
	}
}

// existing returns the message stored under key, or nil.
// retried answers a send whose insert conflicted: with the message
// stored under its key by an earlier attempt, or, if there is none (a
// conflict on something else), with the conflict.
func (s *Service) retried(ctx context.Context, key string, conflict error) (*Message, error) {
	prev, err := s.existing(ctx, s.r, key)
	switch {
	case err != nil:
		return nil, err
	case prev == nil:
		return nil, fmt.Errorf("chat: send: %w", conflict)
	}
	return prev, nil
}

func (s *Service) existing(ctx context.Context, r *repo.Repo, key string) (*Message, error) {
	var m Message
	switch err := r.Get(ctx, &m, key); {
	case errors.Is(err, repo.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("chat: send: %w", err)
	}
	return &m, nil
}

func checkText(text string) error {
	n := utf8.RuneCountInString(text)
	switch {
	case !utf8.ValidString(text):
		return fmt.Errorf("%w: the text is not UTF-8", ErrInput)
	case strings.IndexByte(text, 0) >= 0:
		return fmt.Errorf("%w: the text holds a NUL character", ErrInput)
	case strings.TrimSpace(text) == "":
		return fmt.Errorf("%w: the text is empty", ErrInput)
	case n > MaxText:
		return fmt.Errorf("%w: the text is %d characters; at most %d", ErrInput, n, MaxText)
	}
	return nil
}

// Since returns the messages of the token's conversation after position
// after (0: from the start), oldest first, at most limit of them. On
// stores without gap-free positions it returns first those of the
// overlap window up to after (at most MaxWindow of them), which the
// caller may already have: it drops those by ID, and goes on from the
// greatest position it has seen.
func (s *Service) Since(ctx context.Context, tok *Token, after int64, limit int) ([]Message, error) {
	limit = min(max(limit, 1), MaxHistory)
	conv := repo.Where("conversation", repo.Eq, scoped(tok.App, tok.Conversation))
	var out []Message
	if !s.gapFree && after > 0 {
		lo, _ := snowflake.Bounds(snowflake.ID(after).Time().Add(-s.window))
		window, err := repo.All[Message](ctx, s.r, conv.Where("pos", repo.Gte, int64(lo)).Where("pos", repo.Lte, after).
			OrderBy("pos").Limit(MaxWindow))
		if err != nil {
			return nil, fmt.Errorf("chat: since: %w", err)
		}
		out = window
	}
	ms, err := repo.All[Message](ctx, s.r, conv.Where("pos", repo.Gt, after).OrderBy("pos").Limit(limit))
	if err != nil {
		return nil, fmt.Errorf("chat: since: %w", err)
	}
	return s.visible(tok, append(out, ms...)), nil
}

// MaxWindow is the most messages Since returns from the overlap window.
const MaxWindow = 1000

// UpdatesFrom returns the change cursor from which a client that has
// seen change cursor seen (the greatest Message.Cursor it was sent)
// reads the updates it may have missed: the overlap window before seen,
// since change cursors are snowflake ids drawn by several nodes and a
// change may commit a little after a later one.
func (s *Service) UpdatesFrom(seen int64) int64 {
	if seen <= 0 {
		return 0
	}
	lo, _ := snowflake.Bounds(snowflake.ID(seen).Time().Add(-s.window))
	return max(int64(lo), 0)
}

// Updates returns the messages of the token's conversation changed
// (edited, hidden or shown) after change cursor after, in the order of
// their changes, at most MaxHistory of them, with the cursor to go on
// from and whether there may be more. Messages sent and unchanged since
// are not updates (Since returns them), and not read. A client keeps, of
// each message, the update of the highest version, so reading one twice
// is harmless.
func (s *Service) Updates(ctx context.Context, tok *Token, after int64) (ms []Message, next int64, more bool, err error) {
	page, err := repo.All[Message](ctx, s.r, repo.Where("conversation", repo.Eq, scoped(tok.App, tok.Conversation)).
		Where("changed", repo.Gt, max(after, 0)).OrderBy("changed").Limit(MaxHistory))
	if err != nil {
		return nil, after, false, fmt.Errorf("chat: updates: %w", err)
	}
	next = after
	for _, m := range page {
		next = max(next, m.Changed)
	}
	return s.visible(tok, page), next, len(page) == MaxHistory, nil
}

// History returns a page of the token's conversation, newest first: the
// messages before position before (0: the newest), at most limit.
func (s *Service) History(ctx context.Context, tok *Token, before int64, limit int) ([]Message, error) {
	limit = min(max(limit, 1), MaxHistory)
	q := repo.Where("conversation", repo.Eq, scoped(tok.App, tok.Conversation)).OrderBy("-pos").Limit(limit)
	if before > 0 {
		q = q.Where("pos", repo.Lt, before)
	}
	ms, err := repo.All[Message](ctx, s.r, q)
	if err != nil {
		return nil, fmt.Errorf("chat: history: %w", err)
	}
	return s.visible(tok, ms), nil
}

// visible blanks the text of hidden messages for members (moderators see
// it, to un-hide).
func (s *Service) visible(tok *Token, ms []Message) []Message {
	if tok.Role == RoleModerator {
		return ms
	}
	for i := range ms {
		if ms[i].Hidden {
			ms[i].Text = ""
		}
	}
	return ms
}
