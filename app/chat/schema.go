package chat

import (
	"time"

	"github.com/strata-go/strata/migrate"
	"github.com/strata-go/strata/schema"
)

// App is an integrating site: its public key is the id tokens name as
// their audience.
type App struct {
	_    struct{} `strata:"table=chat_apps,consistency=cp"`
	ID   string   `strata:"id,pk,size=128"`
	Name string   `strata:"name,size=200"`
	schema.Timestamps
}

// AppKey is one of an app's signing keys; an app may have several, so
// that keys can be rotated without downtime, and a disabled key signs
// nothing the chat accepts.
type AppKey struct {
	_       struct{} `strata:"table=chat_app_keys,consistency=cp"`
	ID      string   `strata:"id,pk,size=260"` // app + "/" + key id
	App     string   `strata:"app,index=by_app,size=128"`
	KeyID   string   `strata:"key_id,index=by_app,size=128"`
	Secret  []byte   `strata:"secret"`
	Enabled bool     `strata:"enabled"`
	schema.Timestamps
}

// User is a user of an app, found or created from their first token.
type User struct {
	_    struct{} `strata:"table=chat_users,consistency=cp"`
	ID   string   `strata:"id,pk,size=260"` // app + "/" + the site's user id
	App  string   `strata:"app,size=128"`
	Name string   `strata:"name,size=100"`
	schema.Timestamps
}

// Conversation is a conversation of an app. Seq is its position counter,
// on stores that give one atomically with the message (see Service).
type Conversation struct {
	_   struct{} `strata:"table=chat_conversations,consistency=cp"`
	ID  string   `strata:"id,pk,size=260"` // app + "/" + the site's conversation id
	App string   `strata:"app,size=128"`
	Seq int64    `strata:"seq,merge=counter"`
	schema.Timestamps
}

// Message is one message of a conversation.
//
// Its primary key is derived from (app, conversation, user, client message
// id), so a retried send finds the message the first attempt stored
// instead of storing it twice, on every store. ID is its snowflake id,
// Pos its position in the conversation (see Service).
type Message struct {
	_            struct{} `strata:"table=chat_messages,consistency=ap"`
	Key          string   `strata:"key,pk,size=64"`
	ID           int64    `strata:"sid"`
	Conversation string   `strata:"conversation,index=by_pos|by_change,size=260"`
	Pos          int64    `strata:"pos,index=by_pos"`
	// Changed is a snowflake id drawn at the message's last change (edit,
	// hide or show), 0 while it has none: the index by which a client
	// that was away reads the edits and hides it missed (see
	// Service.Updates) without reading the messages merely sent since.
	Changed  int64      `strata:"changed,index=by_change"`
	User     string     `strata:"user_id,size=260"`
	Name     string     `strata:"name,size=100"`
	ClientID string     `strata:"client_id,size=128"`
	Text     string     `strata:"text,size=4096"`
	Hidden   bool       `strata:"hidden"`
	EditedAt *time.Time `strata:"edited_at"`
	// Version counts the message's changes (edits, hides): concurrent
	// changes are checked against it (an edit racing a hide fails rather
	// than unhiding), and whoever applies update events keeps the
	// highest.
	Version int64 `strata:"version,version"`
	// Fresh is set by Send when it stored the message (not stored; false
	// on a retry's answer, which must not be announced again).
	Fresh bool `strata:"-"`
	schema.Timestamps
}

// Cursor is the message's change cursor, the greatest of which a client
// keeps to resume updates from (Service.UpdatesFrom): Changed, or ID if
// the message has not changed since it was sent.
func (m *Message) Cursor() int64 { return max(m.Changed, m.ID) }

// Member is a user's membership of a conversation: their role there, as
// their last token said, and the last position they read.
type Member struct {
	_            struct{} `strata:"table=chat_members,consistency=cp"`
	ID           string   `strata:"id,pk,size=400"` // app + "/" + conversation + "/" + user
	Conversation string   `strata:"conversation,index,size=260"`
	User         string   `strata:"user_id,size=260"`
	Role         Role     `strata:"role,size=16"`
	LastRead     int64    `strata:"last_read,merge=max"`
	schema.Timestamps
}

// Ban keeps a user from posting in a conversation until a time.
type Ban struct {
	_     struct{} `strata:"table=chat_bans,consistency=cp"`
	ID    string   `strata:"id,pk,size=400"` // as Member's
	Until time.Time
	By    string `strata:"by,size=260"`
	schema.Timestamps
}

// Migrations are the chat's schema, for migrate.New.
func Migrations() *migrate.Migrations {
	var ms migrate.Migrations
	ms.Add(migrate.Migration{Version: 20261124000001, Name: "chat_create", Up: []migrate.Op{
		migrate.CreateTableFor[App](),
		migrate.CreateTableFor[AppKey](),
		migrate.CreateTableFor[User](),
		migrate.CreateTableFor[Conversation](),
		migrate.CreateTableFor[Message](),
		migrate.CreateTableFor[Member](),
		migrate.CreateTableFor[Ban](),
	}, Down: []migrate.Op{
		migrate.DropTableFor[Ban](),
		migrate.DropTableFor[Member](),
		migrate.DropTableFor[Message](),
		migrate.DropTableFor[Conversation](),
		migrate.DropTableFor[User](),
		migrate.DropTableFor[AppKey](),
		migrate.DropTableFor[App](),
	}})
	return &ms
}
