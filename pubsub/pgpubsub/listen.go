package pgpubsub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strata-go/strata/pubsub/internal/retry"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Time limits of the listener's statements and connections, unless the
// connection string sets connect_timeout.
const (
	statementTimeout = 5 * time.Second
	connectTimeout   = 10 * time.Second
	closeTimeout     = time.Second
)

// listen is the listener: it holds the listening connection, conn first
// and then the ones it makes when one fails, until Close.
func (b *Bus) listen(conn *pgx.Conn) {
	defer close(b.done)
	failures := 0 // consecutive failures, for the backoff
	for {
		if conn != nil {
			start := time.Now()
			// Why it failed matters little: the remedy is a new connection,
			// and Subscribe reports why that cannot be made.
			b.serve(conn)
			b.closeConn(conn)
			if b.ctx.Err() != nil {
				return
			}
			b.connLost()
			if time.Since(start) > retry.Max {
				failures = 0 // it worked for a while
			}
		}
		failures++
		if !retry.Sleep(b.ctx, retry.Backoff(failures)) {
			return
		}
		var err error
		conn, err = b.connect(b.ctx)
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			b.mu.Lock()
			b.connErr = err
			b.mu.Unlock()
		}
	}
}

// connect opens a listening connection.
func (b *Bus) connect(ctx context.Context) (*pgx.Conn, error) {
	if b.config.ConnectTimeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, connectTimeout)
		defer cancel()
	}
	conn, err := pgx.ConnectConfig(ctx, b.config)
	if err != nil {
		return nil, err
	}
	b.pid.Store(conn.PgConn().PID())
	return conn, nil
}

func (b *Bus) closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	conn.Close(ctx)
}

// serve listens on conn, a new connection, until it fails or Close: it
// runs LISTEN and UNLISTEN as subscriptions change, dispatches the
// notifications, and pings the connection when it is silent.
func (b *Bus) serve(conn *pgx.Conn) error {
	b.mu.Lock()
	b.connErr = nil
	for _, ch := range b.channels {
		b.pending[ch] = struct{}{} // a new session listens to nothing
	}
	b.mu.Unlock()
	alive := time.Now() // when the connection last showed it works
	for {
		if err := b.reconcile(conn); err != nil {
			return err
		}
		b.mu.Lock()
		if len(b.pending) > 0 {
			b.mu.Unlock()
			continue
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.opts.HealthCheck-time.Since(alive))
		b.interrupt = cancel
		b.mu.Unlock()

		n, err := conn.WaitForNotification(ctx)
		b.mu.Lock()
		b.interrupt = nil
		b.mu.Unlock()
		cancel()
		if n != nil {
			alive = time.Now()
			b.dispatch(n)
		}
		switch {
		case err == nil:
		case b.ctx.Err() != nil:
			return b.ctx.Err()
		case conn.IsClosed() || !waitEnded(err):
			return fmt.Errorf("wait for notification: %w", err)
		case time.Since(alive) >= b.opts.HealthCheck:
			ctx, cancel := context.WithTimeout(b.ctx, b.opts.HealthCheck)
			err := conn.Ping(ctx)
			cancel()
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
			alive = time.Now()
		}
	}
}

// waitEnded reports whether err is WaitForNotification's for a context
// that ended (a timeout or an interruption), which leaves the connection
// working.
func waitEnded(err error) bool {
	return pgconn.Timeout(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// reconcile runs LISTEN for the pending channels that have subscriptions
// and UNLISTEN for those that have none, and confirms the subscriptions
// of each channel it LISTENs to.
func (b *Bus) reconcile(conn *pgx.Conn) error {
	b.mu.Lock()
	var listen, unlisten []*channel
	for ch := range b.pending {
		switch {
		case len(ch.subs) > 0 && !ch.listening:
			listen = append(listen, ch)
		case len(ch.subs) == 0 && ch.listening && !ch.unlistening:
			ch.unlistening = true
			ch.setReady()
			unlisten = append(unlisten, ch)
		case len(ch.subs) == 0 && !ch.listening:
			if b.channels[ch.name] == ch {
				delete(b.channels, ch.name)
			}
		}
	}
	clear(b.pending)
	b.mu.Unlock()

	for _, ch := range unlisten {
		if err := b.exec(conn, "UNLISTEN "+pgx.Identifier{ch.name}.Sanitize()); err != nil {
			return err
		}
		b.mu.Lock()
		ch.listening, ch.unlistening = false, false
		ch.setReady()
		b.pending[ch] = struct{}{} // to drop it, or listen again if it has subscriptions again
		b.mu.Unlock()
	}
	for _, ch := range listen {
		if err := b.exec(conn, "LISTEN "+pgx.Identifier{ch.name}.Sanitize()); err != nil {
			return err
		}
		b.mu.Lock()
		ch.listening = true
		ch.setReady()
		if ch.down {
			ch.down = false
			for q := range ch.subs {
				q.SetDown(false)
			}
		}
		if len(ch.subs) == 0 {
			b.pending[ch] = struct{}{}
		}
		b.mu.Unlock()
	}
	return nil
}

// exec runs a statement on the listening connection. LISTEN and UNLISTEN
// take effect when they commit, here when Exec returns.
func (b *Bus) exec(conn *pgx.Conn, sql string) error {
	ctx, cancel := context.WithTimeout(b.ctx, max(statementTimeout, b.opts.HealthCheck))
	defer cancel()
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// dispatch delivers a notification to the subscriptions of its channel.
func (b *Bus) dispatch(n *pgconn.Notification) {
	msg, err := decode(n.Payload)
	if err != nil {
		return // not one of the bus's messages
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if ch := b.channels[n.Channel]; ch != nil {
		for q := range ch.subs {
			q.Push(msg)
		}
	}
}

// connLost records that the listening connection failed: every
// subscription gets Lost, and awaits its channel's LISTEN on the next
// connection.
func (b *Bus) connLost() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.channels {
		ch.listening, ch.unlistening = false, false
		ch.setReady()
		ch.down = true
		for q := range ch.subs {
			q.SetDown(true)
		}
	}
}
