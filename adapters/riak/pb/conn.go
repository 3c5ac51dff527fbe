package pb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/golang/protobuf/proto"
)

// ErrBroken is returned (wrapped, together with the original cause) by
// every request on a connection that an earlier request left in an unknown
// state: a timeout, a cancellation, an I/O error, a malformed or unexpected
// frame, or a stream the caller stopped reading. Such a connection may still
// carry the rest of an old response, so it is closed and never reused (the
// bug of riak-python-client #425).
var ErrBroken = errors.New("riak: connection broken")

// ErrUnexpectedCode is returned (wrapped) when Riak answers a request with a
// message code other than the expected one or RpbErrorResp. The connection
// is then broken.
var ErrUnexpectedCode = errors.New("riak: unexpected message code")

// ConnOptions configures a Conn. The zero value is usable.
type ConnOptions struct {
	// DialTimeout bounds connecting, in addition to the context given to
	// Dial. Zero means 5 seconds.
	DialTimeout time.Duration

	// RequestTimeout bounds a request (a whole stream, for streaming
	// requests) whose context has no deadline. A context deadline always
	// wins, so a caller can give a long listing more time. Zero means no
	// default: only the context bounds the request.
	RequestTimeout time.Duration

	// MaxFrame is the largest response frame accepted (MaxFrame if <= 0).
	// A larger frame breaks the connection.
	MaxFrame int

	// KeepAlive is the TCP keep-alive period (zero: Go's default of 15
	// seconds; negative: off).
	KeepAlive time.Duration
}

func (o ConnOptions) dialTimeout() time.Duration {
	if o.DialTimeout > 0 {
		return o.DialTimeout
	}
	return 5 * time.Second
}

// Conn is one connection to a Riak node. It runs one request at a time:
// Riak never pipelines, so concurrent callers wait their turn (a wait that
// honours their context). A Conn is safe for concurrent use.
//
// A request that fails with a *Error (Riak's RpbErrorResp) leaves the
// connection usable. Any other failure during a request breaks it: it is
// closed and every later request fails with ErrBroken.
type Conn struct {
	nc   net.Conn
	r    *bufio.Reader
	opts ConnOptions

	// turn holds one token while a request runs; waiting on it honours
	// the caller's context, unlike a mutex.
	turn chan struct{}
	rbuf []byte // read buffer, reused between frames; owned by the turn holder
	wbuf []byte // write buffer, likewise

	mu     sync.Mutex
	broken error // why the connection is unusable, nil while it is usable
}

// Dial connects to the Riak node at addr (host:port) within ctx.
func Dial(ctx context.Context, addr string, opts ConnOptions) (*Conn, error) {
	d := net.Dialer{Timeout: opts.dialTimeout(), KeepAlive: opts.KeepAlive}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("riak: dial %s: %w", addr, err)
	}
	return NewConn(nc, opts), nil
}

// NewConn returns a Conn that runs requests on nc, which it owns from then
// on (Close closes it).
func NewConn(nc net.Conn, opts ConnOptions) *Conn {
	return &Conn{
		nc:   nc,
		r:    bufio.NewReaderSize(nc, 4096),
		opts: opts,
		turn: make(chan struct{}, 1),
	}
}

// RemoteAddr returns the address of the node.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Close closes the connection. A request running on it fails.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return nil
	}
	c.broken = net.ErrClosed
	return c.nc.Close()
}

// Err returns nil while the connection is usable, and otherwise the reason
// it is not (net.ErrClosed after Close).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken
}

// Broken reports whether the connection is unusable (broken or closed).
func (c *Conn) Broken() bool { return c.Err() != nil }

// breakWith marks the connection broken by cause and closes it. The first
// cause is kept.
func (c *Conn) breakWith(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken == nil {
		c.broken = cause
		c.nc.Close()
	}
}

// Do sends req (nil for a message without a body) with message code code,
// reads one response frame and, if it has code want, decodes it into resp
// (which may be nil for a response without a body). An RpbErrorResp becomes
// a *Error.
//
// Do is the building block of the typed operations; use it for a message
// they do not cover.
func (c *Conn) Do(ctx context.Context, code byte, req proto.Message, want byte, resp proto.Message) error {
	return c.exchange(ctx, code, req, want, func(body []byte) (bool, error) {
		if resp == nil {
			return true, nil
		}
		if err := decode(body, resp); err != nil {
			return false, err
		}
		return true, nil
	})
}

// Stream sends req like Do and then calls fn with the body of each
// response frame of code want, until fn reports done (the frame carrying
// done=true) or fails. If fn fails before done, the rest of the stream is
// never read, so the connection is broken; fn's error is returned. The body
// passed to fn is only valid during the call.
func (c *Conn) Stream(ctx context.Context, code byte, req proto.Message, want byte, fn func(body []byte) (done bool, err error)) error {
	return c.exchange(ctx, code, req, want, fn)
}

// exchange runs one request: it takes the connection's turn, bounds the
// request by ctx (and the default timeout), writes the request frame and
// hands response frames to fn until it reports done. Everything but a clean
// end or a *Error reply breaks the connection.
func (c *Conn) exchange(ctx context.Context, code byte, req proto.Message, want byte, fn func([]byte) (bool, error)) (err error) {
	body, err := encode(req)
	if err != nil {
		return err // nothing was sent: the connection is fine
	}

	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.turn }()

	if cause := c.Err(); cause != nil {
		return fmt.Errorf("%w: %w", ErrBroken, cause)
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	deadline, fromCtx := ctx.Deadline()
	if !fromCtx && c.opts.RequestTimeout > 0 {
		deadline = time.Now().Add(c.opts.RequestTimeout)
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		c.breakWith(err)
		return fmt.Errorf("%w: %w", ErrBroken, err)
	}
	// Cancellation unblocks a read or write in progress by moving the
	// deadline into the past.
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			// The cancellation fired, so the deadline may now be in the
			// past, or be set so at any moment: never reuse.
			c.breakWith(ctx.Err())
		}
		var re *Error
		if err == nil || errors.As(err, &re) {
			return
		}
		switch {
		case ctx.Err() != nil:
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		case fromCtx && !time.Now().Before(deadline):
			// The connection's deadline, which is ctx's, may expire
			// just before ctx reports it.
			err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
		}
	}()

	c.wbuf = AppendFrame(c.wbuf[:0], code, body)
	if _, err := c.nc.Write(c.wbuf); err != nil {
		c.breakWith(err)
		return err
	}
	for {
		got, rbody, err := ReadFrame(c.r, c.opts.MaxFrame, c.rbuf)
		if err != nil {
			c.breakWith(err)
			return err
		}
		if cap(rbody) > cap(c.rbuf) && cap(rbody) <= 64<<10 {
			c.rbuf = rbody[:0]
		}
		switch got {
		case want:
		case CodeErrorResp:
			e, err := decodeError(rbody)
			if err != nil {
				c.breakWith(err)
				return err
			}
			return e
		default:
			err := fmt.Errorf("%w: got %d, want %d", ErrUnexpectedCode, got, want)
			c.breakWith(err)
			return err
		}
		done, err := fn(rbody)
		if !done {
			if err != nil {
				c.breakWith(fmt.Errorf("stream abandoned: %w", err))
				return err
			}
			continue
		}
		return err
	}
}
