package riaktest

import (
	"bufio"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/golang/protobuf/proto"
	"github.com/strata-go/strata/adapters/riak/pb"
	"github.com/stretchr/testify/require"
)

// A client speaks raw frames to one node.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// dialNode connects to node i of c.
func dialNode(t testing.TB, c *Cluster, i int) *client {
	return dial(t, c.Addrs()[i])
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	if m == nil {
		return nil
	}
	b, err := proto.Marshal(m)
	var rnse *proto.RequiredNotSetError
	if !errors.As(err, &rnse) {
		require.NoError(t, err)
	}
	return b
}

// send writes one request frame.
func (c *client) send(code byte, m proto.Message) {
	c.t.Helper()
	c.sendRaw(pb.AppendFrame(nil, code, marshal(c.t, m)))
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	require.NoError(c.t, c.conn.SetWriteDeadline(time.Now().Add(5*time.Second)))
	_, err := c.conn.Write(b)
	require.NoError(c.t, err)
}

// recv reads one frame.
func (c *client) recv() (byte, []byte) {
	c.t.Helper()
	require.NoError(c.t, c.conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	code, body, err := pb.ReadFrame(c.r, 0, nil)
	require.NoError(c.t, err)
	return code, body
}

// call sends a request and decodes its one-frame reply of code want into
// resp (which may be nil), failing on an error reply.
func (c *client) call(code byte, req proto.Message, want byte, resp proto.Message) {
	c.t.Helper()
	c.send(code, req)
	got, body := c.recv()
	if got == pb.CodeErrorResp {
		e, err := pb.DecodeError(body)
		require.NoError(c.t, err)
		c.t.Fatalf("request %d: error reply %q", code, e.Message)
	}
	require.Equal(c.t, want, got)
	if resp != nil {
		require.NoError(c.t, proto.Unmarshal(body, resp))
	}
}

// callErr sends a request that must fail and returns the error text.
func (c *client) callErr(code byte, req proto.Message) string {
	c.t.Helper()
	c.send(code, req)
	got, body := c.recv()
	require.Equal(c.t, pb.CodeErrorResp, got, "want an error reply")
	var m riak.RpbErrorResp
	require.NoError(c.t, proto.Unmarshal(body, &m))
	require.Equal(c.t, uint32(0), m.GetErrcode())
	return string(m.Errmsg)
}

// stream sends a request and reads frames of code want until one decodes
// with done set, returning the bodies.
func (c *client) stream(code byte, req proto.Message, want byte, done func([]byte) bool) [][]byte {
	c.t.Helper()
	c.send(code, req)
	var out [][]byte
	for {
		got, body := c.recv()
		require.Equal(c.t, want, got)
		out = append(out, body)
		if done(body) {
			return out
		}
	}
}
