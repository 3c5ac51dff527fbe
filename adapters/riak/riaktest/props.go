package riaktest

import (
	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/golang/protobuf/proto"
	"github.com/strata-go/strata/adapters/riak/pb"
)

// Bucket properties. A bucket's properties are the defaults of its type's
// kind (the "default" type, or a custom one), then those set on the type,
// then those set on the bucket. Commit hooks are accepted and dropped:
// has_precommit and has_postcommit are always true with empty lists, as a
// bucket without hooks shows them.

// baseProps returns the properties of a bucket of type typ before any is
// set, as a Riak 3.2.1 node shows them.
func baseProps(typ string) *riak.RpbBucketProps {
	q := proto.Uint32(pb.QuorumQuorum)
	return &riak.RpbBucketProps{
		NVal:          proto.Uint32(3),
		AllowMult:     proto.Bool(typ != defaultType),
		LastWriteWins: proto.Bool(false),
		HasPrecommit:  proto.Bool(true),
		HasPostcommit: proto.Bool(true),
		ChashKeyfun:   &riak.RpbModFun{Module: []byte("riak_core_util"), Function: []byte("chash_std_keyfun")},
		Linkfun:       &riak.RpbModFun{Module: []byte("riak_kv_wm_link_walker"), Function: []byte("mapreduce_linkfun")},
		OldVclock:     proto.Uint32(86400),
		YoungVclock:   proto.Uint32(20),
		BigVclock:     proto.Uint32(50),
		SmallVclock:   proto.Uint32(50),
		Pr:            proto.Uint32(0),
		R:             q,
		W:             q,
		Pw:            proto.Uint32(0),
		Dw:            q,
		Rw:            q,
		BasicQuorum:   proto.Bool(false),
		NotfoundOk:    proto.Bool(true),
		Repl:          riak.RpbBucketProps_TRUE.Enum(),
		WriteOnce:     proto.Bool(false),
	}
}

// typeProps returns the properties of type typ, which must exist.
func (c *Cluster) typeProps(typ string) *riak.RpbBucketProps {
	p := baseProps(typ)
	proto.Merge(p, c.types[typ])
	return p
}

// props returns the properties of bucket b, whose type must exist.
func (c *Cluster) props(b bucketID) *riak.RpbBucketProps {
	p := c.typeProps(b.typ)
	if o := c.buckets[b]; o != nil {
		proto.Merge(p, o)
	}
	return p
}

// settable returns the properties of p that a client may set, as a copy.
func settable(p *riak.RpbBucketProps) *riak.RpbBucketProps {
	if p == nil {
		return &riak.RpbBucketProps{}
	}
	q := proto.Clone(p).(*riak.RpbBucketProps)
	q.Precommit, q.Postcommit, q.HasPrecommit, q.HasPostcommit = nil, nil, nil, nil
	q.XXX_unrecognized = nil
	return q
}

// checkProps refuses properties Riak would refuse.
func checkProps(p *riak.RpbBucketProps, onType bool) error {
	if p.NVal != nil && p.GetNVal() == 0 {
		return rpcErrorf("Invalid bucket properties: [{n_val,0}]")
	}
	if p.Datatype != nil {
		switch string(p.Datatype) {
		case "counter", "set", "map", "hll", "gset":
		default:
			return rpcErrorf("Invalid bucket properties: [{datatype,%q}]", p.Datatype)
		}
		if !onType {
			return rpcErrorf("Invalid bucket properties: [{datatype,\"can only be set on a bucket type\"}]")
		}
	}
	return nil
}

// setTypeProps creates the type name or adds props to its properties.
func (c *Cluster) setTypeProps(name string, props *riak.RpbBucketProps) error {
	p := settable(props)
	if err := checkProps(p, true); err != nil {
		return err
	}
	if p.Datatype != nil && name == defaultType {
		return rpcErrorf("Invalid bucket properties: [{datatype,\"not allowed on the default type\"}]")
	}
	if old := c.types[name]; old != nil {
		proto.Merge(old, p)
		return nil
	}
	c.types[name] = p
	return nil
}

// checkType checks a request's optional bucket type (nil is "default"),
// returning its name.
func (c *Cluster) checkType(typ []byte, unknown func(string) error) (string, error) {
	switch {
	case typ == nil:
		return defaultType, nil
	case len(typ) == 0:
		return "", rpcError("Type cannot be zero-length")
	case c.types[string(typ)] == nil:
		return "", unknown(string(typ))
	}
	return string(typ), nil
}

func noTypeKV(t string) error    { return rpcErrorf("Error no bucket type `<<%q>>`", t) }
func noTypeAdmin(t string) error { return rpcErrorf("No bucket-type named '%s'", t) }

// checkBucket checks a request's bucket and type.
func (c *Cluster) checkBucket(typ, bucket []byte, unknown func(string) error) (bucketID, error) {
	t, err := c.checkType(typ, unknown)
	if err != nil {
		return bucketID{}, err
	}
	if len(bucket) == 0 {
		return bucketID{}, rpcError("Bucket cannot be zero-length")
	}
	return bucketID{t, string(bucket)}, nil
}

func (s *session) getBucket(body []byte) ([]frame, error) {
	var m riak.RpbGetBucketReq
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	c := s.node.c
	b, err := c.checkBucket(m.Type, m.Bucket, noTypeAdmin)
	if err != nil {
		return nil, err
	}
	return []frame{reply(pb.CodeGetBucketResp, &riak.RpbGetBucketResp{Props: c.props(b)})}, nil
}

func (s *session) setBucket(body []byte) ([]frame, error) {
	var m riak.RpbSetBucketReq
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	c := s.node.c
	b, err := c.checkBucket(m.Type, m.Bucket, noTypeAdmin)
	if err != nil {
		return nil, err
	}
	p := settable(m.Props)
	if err := checkProps(p, false); err != nil {
		return nil, err
	}
	if old := c.buckets[b]; old != nil {
		proto.Merge(old, p)
	} else {
		c.buckets[b] = p
	}
	return []frame{{code: pb.CodeSetBucketResp}}, nil
}

func (s *session) resetBucket(body []byte) ([]frame, error) {
	var m riak.RpbResetBucketReq
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	c := s.node.c
	b, err := c.checkBucket(m.Type, m.Bucket, noTypeAdmin)
	if err != nil {
		return nil, err
	}
	delete(c.buckets, b)
	return []frame{{code: pb.CodeResetBucketResp}}, nil
}

func (s *session) getBucketType(body []byte) ([]frame, error) {
	var m riak.RpbGetBucketTypeReq
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	c := s.node.c
	if m.Type == nil {
		m.Type = []byte{}
	}
	t, err := c.checkType(m.Type, noTypeAdmin)
	if err != nil {
		return nil, err
	}
	return []frame{reply(pb.CodeGetBucketResp, &riak.RpbGetBucketResp{Props: c.typeProps(t)})}, nil
}

// setBucketType sets the properties of a type, creating it if needed:
// real Riak creates types only through `riak admin bucket-type`.
func (s *session) setBucketType(body []byte) ([]frame, error) {
	var m riak.RpbSetBucketTypeReq
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	if len(m.Type) == 0 {
		return nil, rpcError("Type cannot be zero-length")
	}
	if err := s.node.c.setTypeProps(string(m.Type), m.Props); err != nil {
		return nil, err
	}
	return []frame{{code: pb.CodeSetBucketResp}}, nil
}
