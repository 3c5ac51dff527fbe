package riaktest

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/strata-go/strata/adapters/riak/pb"
)

// FuzzServer sends arbitrary bytes to a node: the server must neither
// panic nor hang (it answers what it can, then closes the connection once
// the client stops sending), and the node must keep serving.
func FuzzServer(f *testing.F) {
	for _, ex := range readVectors(f) {
		f.Add(ex.request)
	}
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 9})
	f.Add(pb.AppendFrame(nil, pb.CodeIndexReq, []byte("\x0a\x01b\x12\x07$bucket\x18\x01")))
	f.Add(pb.AppendFrame(nil, pb.CodePutReq, []byte("\x0a\x01b\x1a\x03\xa7\xff\xff\x22\x00")))
	f.Add(pb.AppendFrame(nil, pb.CodeIndexReq, []byte("\x0a\x01b\x12\x05a_int\x18\x01\x2a\x011\x32\x012\x48\x01\x52\x03g2g")))

	c := Start(f, Options{MaxFrame: 1 << 16, DeleteMode: -1})
	f.Fuzz(func(t *testing.T, in []byte) {
		addr := c.Addrs()[len(in)%3]
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write(in); err != nil {
			return // the server closed the connection first
		}
		conn.(*net.TCPConn).CloseWrite()
		_, err = io.Copy(io.Discard, conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the server did not close the connection: %v", err)
		}
		dial(t, addr).call(pb.CodePingReq, nil, pb.CodePingResp, nil)
	})
}
