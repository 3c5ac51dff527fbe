package pb

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/basho/riak-go-client/rpb/riak_dt"
	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
)

// responseTypes are the messages the client decodes, by response code.
var responseTypes = map[byte]func() proto.Message{
	CodeGetServerInfoResp: func() proto.Message { return new(riak.RpbGetServerInfoResp) },
	CodeGetResp:           func() proto.Message { return new(riak_kv.RpbGetResp) },
	CodePutResp:           func() proto.Message { return new(riak_kv.RpbPutResp) },
	CodeListBucketsResp:   func() proto.Message { return new(riak_kv.RpbListBucketsResp) },
	CodeListKeysResp:      func() proto.Message { return new(riak_kv.RpbListKeysResp) },
	CodeGetBucketResp:     func() proto.Message { return new(riak.RpbGetBucketResp) },
	CodeIndexResp:         func() proto.Message { return new(riak_kv.RpbIndexResp) },
	CodeDtFetchResp:       func() proto.Message { return new(riak_dt.DtFetchResp) },
	CodeDtUpdateResp:      func() proto.Message { return new(riak_dt.DtUpdateResp) },
}

func addVectorSeeds(f *testing.F, withCode bool) {
	for _, v := range vectors {
		for _, r := range v.resp {
			b, err := hex.DecodeString(r)
			if err != nil {
				f.Fatal(err)
			}
			if withCode {
				f.Add(b)
			} else {
				f.Add(b[5:])
			}
		}
	}
}

// FuzzDecodeResponses: arbitrary bytes as the body of every response the
// client decodes never panic, and what decodes is usable by the helpers.
func FuzzDecodeResponses(f *testing.F) {
	addVectorSeeds(f, false)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, newMsg := range responseTypes {
			m := newMsg()
			if err := decode(body, m); err != nil {
				continue
			}
			_ = proto.Size(m)
			switch m := m.(type) {
			case *riak_kv.RpbGetResp:
				IsNotFound(m)
				IsTombstone(m)
				for _, c := range m.GetContent() {
					name(nil, c.GetValue(), c.GetVtag())
				}
			case *riak_dt.DtFetchResp:
				DtNotFound(m)
				m.GetValue().GetMapValue()
			}
		}
		if e, err := decodeError(body); err == nil {
			_ = e.Error()
		}
		DecodeError(body)
	})
}

// FuzzConnResponses: a server answering a request with arbitrary bytes
// never makes an operation panic or hang; the operation ends within its
// deadline, and a connection left in an unknown state is broken.
func FuzzConnResponses(f *testing.F) {
	f.Add(byte(0), []byte{})
	for i, v := range vectors {
		var b []byte
		for _, r := range v.resp {
			fb, _ := hex.DecodeString(r)
			b = append(b, fb...)
		}
		f.Add(byte(i), b)
	}
	f.Fuzz(func(t *testing.T, op byte, answer []byte) {
		cnc, snc := net.Pipe()
		served := make(chan struct{})
		go func() { // owned by this iteration: ends when either side closes
			defer close(served)
			defer snc.Close()
			if _, _, err := ReadFrame(snc, 0, nil); err != nil {
				return
			}
			snc.Write(answer)
		}()
		c := NewConn(cnc, ConnOptions{MaxFrame: 1 << 16})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()

		var err error
		nop := func(*riak_kv.RpbIndexResp) error { return nil }
		switch op % 8 {
		case 0:
			err = c.Ping(ctx)
		case 1:
			_, err = c.Get(ctx, getK1)
		case 2:
			_, err = c.Put(ctx, &riak_kv.RpbPutReq{Bucket: []byte("b"), Content: &riak_kv.RpbContent{Value: []byte{}}})
		case 3:
			req := IndexRange("b", "i_bin", "a", "z")
			req.Stream = proto.Bool(true)
			err = c.IndexStream(ctx, req, nop)
		case 4:
			err = c.ListKeys(ctx, &riak_kv.RpbListKeysReq{Bucket: []byte("b")}, func([][]byte) error { return nil })
		case 5:
			err = c.ListBuckets(ctx, &riak_kv.RpbListBucketsReq{Stream: proto.Bool(true)}, func([][]byte) error { return nil })
		case 6:
			_, err = c.DtFetch(ctx, &riak_dt.DtFetchReq{Bucket: []byte("b"), Key: []byte("k"), Type: []byte("t")})
		case 7:
			_, err = c.GetBucket(ctx, &riak.RpbGetBucketReq{Bucket: []byte("b")})
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("op %d hung on %x", op%8, answer)
		}
		var re *Error
		if err != nil && !errors.As(err, &re) && !c.Broken() {
			t.Fatalf("op %d: %v, but the connection is not broken", op%8, err)
		}
		c.Close()
		<-served
	})
}
