package riaktest

import (
	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
	"github.com/strata-go/strata/adapters/riak/pb"
)

// serverVersion is the Riak version the emulator claims.
const serverVersion = "3.2.1"

func (s *session) ping([]byte) ([]frame, error) {
	return []frame{{code: pb.CodePingResp}}, nil
}

func (s *session) serverInfo([]byte) ([]frame, error) {
	return []frame{reply(pb.CodeGetServerInfoResp, &riak.RpbGetServerInfoResp{
		Node:          []byte(s.node.name),
		ServerVersion: []byte(serverVersion),
	})}, nil
}

func (s *session) getClientID([]byte) ([]frame, error) {
	return []frame{reply(4, &riak_kv.RpbGetClientIdResp{ClientId: s.clientID})}, nil
}

func (s *session) setClientID(body []byte) ([]frame, error) {
	var m riak_kv.RpbSetClientIdReq
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	s.clientID = nonNil(m.ClientId)
	return []frame{{code: 6}}, nil
}

// preflist answers RpbGetBucketKeyPreflistReq with the vnodes a request
// coordinated on this node would use.
func (s *session) preflist(body []byte) ([]frame, error) {
	var m riak_kv.RpbGetBucketKeyPreflistReq
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	c := s.node.c
	b, err := c.checkBucket(m.Type, m.Bucket, noTypeKV)
	if err != nil {
		return nil, err
	}
	if len(m.Key) == 0 {
		return nil, rpcError("Key cannot be zero-length")
	}
	k := bkey{b.typ, b.bucket, string(m.Key)}
	var resp riak_kv.RpbGetBucketKeyPreflistResp
	for _, t := range s.targets(k, int(c.props(b).GetNVal()), true) {
		resp.Preflist = append(resp.Preflist, &riak_kv.RpbBucketKeyPreflistItem{
			Partition: proto.Int64(int64(t.partition)),
			Node:      []byte(c.nodes[t.node].name),
			Primary:   proto.Bool(t.primary),
		})
	}
	return []frame{reply(34, &resp)}, nil
}
