package riaktest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/golang/protobuf/proto"
	"github.com/strata-go/strata/adapters/riak/pb"
)

// A node is one emulated Riak node: a listener and its connections. The
// data lives in the Cluster's vnodes.
type node struct {
	c     *Cluster
	index int
	name  string
	addr  string // the listener's address, kept across NodeDown and NodeUp

	mu    sync.Mutex // guards ln and conns
	ln    net.Listener
	conns map[net.Conn]struct{}
}

// listen starts accepting connections on the node's address.
func (n *node) listen() error {
	ln, err := net.Listen("tcp", n.addr)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.ln, n.addr = ln, ln.Addr().String()
	n.mu.Unlock()
	n.c.wg.Add(1)
	go n.serve(ln)
	return nil
}

// stop closes the listener and every connection: the node refuses
// connections, as a node that is down does.
func (n *node) stop() {
	n.mu.Lock()
	ln := n.ln
	n.ln = nil
	n.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	n.dropConns()
}

// serve accepts connections until ln is closed.
func (n *node) serve(ln net.Listener) {
	defer n.c.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		if !n.isUp() || !n.track(conn) {
			conn.Close()
			continue
		}
		n.c.wg.Add(1)
		go n.serveConn(conn)
	}
}

func (n *node) isUp() bool {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	return n.c.up[n.index] && !n.c.closed
}

// track registers conn so that dropConns can close it; it reports false
// once the cluster is closed.
func (n *node) track(conn net.Conn) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.c.mu.Lock()
	closed := n.c.closed
	n.c.mu.Unlock()
	if closed {
		return false
	}
	n.conns[conn] = struct{}{}
	return true
}

func (n *node) untrack(conn net.Conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.conns, conn)
}

// dropConns closes every connection of the node; their goroutines end.
func (n *node) dropConns() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for conn := range n.conns {
		conn.Close()
		delete(n.conns, conn)
	}
}

// A session is the state of one client connection.
type session struct {
	node     *node
	clientID []byte
}

// A frame is one message of a reply.
type frame struct {
	code byte
	body []byte
}

// serveConn answers the requests of one connection in order, each with
// its whole reply (every frame of a stream) before it reads the next. A
// frame that cannot be read (too long, empty, cut short) ends the
// connection, as it does with Riak.
func (n *node) serveConn(conn net.Conn) {
	defer n.c.wg.Done()
	defer n.untrack(conn)
	defer conn.Close()
	s := &session{node: n, clientID: []byte(randomBase62(4))}
	r := bufio.NewReader(conn)
	w := bufio.NewWriter(conn)
	for {
		code, body, err := pb.ReadFrame(r, n.c.opts.MaxFrame, nil)
		if err != nil {
			return
		}
		frames, ok := s.handle(code, body)
		if !ok {
			return
		}
		var out []byte
		for _, f := range frames {
			out = pb.AppendFrame(out[:0], f.code, f.body)
			if _, err := w.Write(out); err != nil {
				return
			}
		}
		if err := w.Flush(); err != nil {
			return
		}
	}
}

// An rpcError is an error a request answers with: its text goes to the
// client in an RpbErrorResp.
type rpcError string

func (e rpcError) Error() string { return string(e) }

func rpcErrorf(format string, args ...any) error { return rpcError(fmt.Sprintf(format, args...)) }

// errorFrame returns the RpbErrorResp frame for err.
func errorFrame(err error) frame {
	return frame{pb.CodeErrorResp, pb.EncodeError(err.Error())}
}

// decode decodes a request body into m. Missing required fields are not an
// error here (Riak's decoder does not check them either); the handlers
// check what they need.
func decode(body []byte, m proto.Message) error {
	err := proto.Unmarshal(body, m)
	var rnse *proto.RequiredNotSetError
	if err != nil && !errors.As(err, &rnse) {
		return rpcErrorf("Error processing incoming message: %v", err)
	}
	return nil
}

// reply returns the frame of a reply message.
func reply(code byte, m proto.Message) frame {
	b, err := proto.Marshal(m)
	var rnse *proto.RequiredNotSetError
	if err != nil && !errors.As(err, &rnse) {
		return errorFrame(rpcErrorf("riaktest: cannot encode reply: %v", err))
	}
	return frame{code, b}
}

// handle answers one request. It reports false when the connection must
// close (the node went down meanwhile).
func (s *session) handle(code byte, body []byte) ([]frame, bool) {
	c := s.node.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up[s.node.index] || c.closed {
		return nil, false
	}
	h := handlerFor(code)
	if h == nil {
		if name := unsupported(code); name != "" {
			return []frame{errorFrame(rpcErrorf("riaktest: %s is not supported by the emulator", name))}, true
		}
		return []frame{errorFrame(rpcErrorf("Unknown message code: %d", code))}, true
	}
	frames, err := h(s, body)
	if err != nil {
		return []frame{errorFrame(err)}, true
	}
	return frames, true
}

// A handler answers one kind of request, with c.mu held.
type handler func(s *session, body []byte) ([]frame, error)

// handlerFor returns the handler of a request code, or nil.
func handlerFor(code byte) handler {
	switch code {
	case pb.CodePingReq:
		return (*session).ping
	case 3: // RpbGetClientIdReq
		return (*session).getClientID
	case 5: // RpbSetClientIdReq
		return (*session).setClientID
	case pb.CodeGetServerInfoReq:
		return (*session).serverInfo
	case pb.CodeGetReq:
		return (*session).get
	case pb.CodePutReq:
		return (*session).put
	case pb.CodeDelReq:
		return (*session).del
	case pb.CodeListBucketsReq:
		return (*session).listBuckets
	case pb.CodeListKeysReq:
		return (*session).listKeys
	case pb.CodeGetBucketReq:
		return (*session).getBucket
	case pb.CodeSetBucketReq:
		return (*session).setBucket
	case pb.CodeIndexReq:
		return (*session).index
	case pb.CodeResetBucketReq:
		return (*session).resetBucket
	case pb.CodeGetBucketTypeReq:
		return (*session).getBucketType
	case pb.CodeSetBucketTypeReq:
		return (*session).setBucketType
	case 33: // RpbGetBucketKeyPreflistReq
		return (*session).preflist
	case pb.CodeDtFetchReq:
		return (*session).dtFetch
	case pb.CodeDtUpdateReq:
		return (*session).dtUpdate
	}
	return nil
}

// unsupported names a request that Riak 3.2.1 serves and the emulator does
// not (answered with an error that says so), or returns "".
func unsupported(code byte) string {
	switch code {
	case pb.CodeMapRedReq:
		return "RpbMapRedReq"
	case 40:
		return "RpbCSBucketReq"
	case pb.CodeCounterUpdateReq:
		return "RpbCounterUpdateReq"
	case pb.CodeCounterGetReq:
		return "RpbCounterGetReq"
	case 202, 204, 206:
		return "next-generation replication"
	case 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 223, 230, 231:
		return "AAE folds"
	case 253, 255:
		return "security"
	}
	return ""
}
