package pb

import (
	"context"
	"fmt"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/basho/riak-go-client/rpb/riak_dt"
	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
)

// The operations of Client on one connection. Each wraps its error with the
// operation and the object it concerns.

// Ping checks that the node answers.
func (c *Conn) Ping(ctx context.Context) error {
	if err := c.Do(ctx, CodePingReq, nil, CodePingResp, nil); err != nil {
		return fmt.Errorf("riak: ping: %w", err)
	}
	return nil
}

// ServerInfo returns the node's name and version.
func (c *Conn) ServerInfo(ctx context.Context) (*riak.RpbGetServerInfoResp, error) {
	resp := new(riak.RpbGetServerInfoResp)
	if err := c.Do(ctx, CodeGetServerInfoReq, nil, CodeGetServerInfoResp, resp); err != nil {
		return nil, fmt.Errorf("riak: server info: %w", err)
	}
	return resp, nil
}

// Get fetches an object. Not found is an empty response: see IsNotFound.
func (c *Conn) Get(ctx context.Context, req *riak_kv.RpbGetReq) (*riak_kv.RpbGetResp, error) {
	resp := new(riak_kv.RpbGetResp)
	if err := c.Do(ctx, CodeGetReq, req, CodeGetResp, resp); err != nil {
		return nil, fmt.Errorf("riak: get %s: %w", name(req.GetType(), req.GetBucket(), req.GetKey()), err)
	}
	return resp, nil
}

// Put stores an object (content and content.value are required; use an
// empty, non-nil slice for an empty value).
func (c *Conn) Put(ctx context.Context, req *riak_kv.RpbPutReq) (*riak_kv.RpbPutResp, error) {
	resp := new(riak_kv.RpbPutResp)
	if err := c.Do(ctx, CodePutReq, req, CodePutResp, resp); err != nil {
		return nil, fmt.Errorf("riak: put %s: %w", name(req.GetType(), req.GetBucket(), req.GetKey()), err)
	}
	return resp, nil
}

// Delete deletes an object.
func (c *Conn) Delete(ctx context.Context, req *riak_kv.RpbDelReq) error {
	if err := c.Do(ctx, CodeDelReq, req, CodeDelResp, nil); err != nil {
		return fmt.Errorf("riak: delete %s: %w", name(req.GetType(), req.GetBucket(), req.GetKey()), err)
	}
	return nil
}

// Index runs a secondary-index query and returns one page; with
// stream=true the frames are merged.
func (c *Conn) Index(ctx context.Context, req *riak_kv.RpbIndexReq) (*riak_kv.RpbIndexResp, error) {
	all := new(riak_kv.RpbIndexResp)
	err := c.indexFrames(ctx, req, func(r *riak_kv.RpbIndexResp) error {
		all.Keys = append(all.Keys, r.Keys...)
		all.Results = append(all.Results, r.Results...)
		if r.Continuation != nil {
			all.Continuation = r.Continuation
		}
		if r.Done != nil {
			all.Done = r.Done
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

// IndexStream runs a secondary-index query and calls fn with each response
// frame, the final one included. If fn fails, the query is abandoned (and
// the connection broken).
func (c *Conn) IndexStream(ctx context.Context, req *riak_kv.RpbIndexReq, fn func(*riak_kv.RpbIndexResp) error) error {
	return c.indexFrames(ctx, req, fn)
}

func (c *Conn) indexFrames(ctx context.Context, req *riak_kv.RpbIndexReq, fn func(*riak_kv.RpbIndexResp) error) error {
	err := stream(ctx, c, CodeIndexReq, req, CodeIndexResp,
		func(r *riak_kv.RpbIndexResp) bool { return !req.GetStream() || r.GetDone() }, fn)
	if err != nil {
		return fmt.Errorf("riak: index %s %s: %w", name(req.GetType(), req.GetBucket(), nil), req.GetIndex(), err)
	}
	return nil
}

// ListKeys lists every key of a bucket, calling fn with each non-empty
// batch. If fn fails, the listing is abandoned (and the connection broken).
func (c *Conn) ListKeys(ctx context.Context, req *riak_kv.RpbListKeysReq, fn func(keys [][]byte) error) error {
	err := stream(ctx, c, CodeListKeysReq, req, CodeListKeysResp,
		(*riak_kv.RpbListKeysResp).GetDone,
		func(r *riak_kv.RpbListKeysResp) error {
			if len(r.Keys) == 0 {
				return nil
			}
			return fn(r.Keys)
		})
	if err != nil {
		return fmt.Errorf("riak: list keys %s: %w", name(req.GetType(), req.GetBucket(), nil), err)
	}
	return nil
}

// ListBuckets lists the buckets of a bucket type, calling fn with each
// non-empty batch. Without stream=true (or with a nil req) Riak answers
// with a single frame.
func (c *Conn) ListBuckets(ctx context.Context, req *riak_kv.RpbListBucketsReq, fn func(buckets [][]byte) error) error {
	err := stream(ctx, c, CodeListBucketsReq, req, CodeListBucketsResp,
		func(r *riak_kv.RpbListBucketsResp) bool { return !req.GetStream() || r.GetDone() },
		func(r *riak_kv.RpbListBucketsResp) error {
			if len(r.Buckets) == 0 {
				return nil
			}
			return fn(r.Buckets)
		})
	if err != nil {
		return fmt.Errorf("riak: list buckets: %w", err)
	}
	return nil
}

// GetBucket returns a bucket's properties.
func (c *Conn) GetBucket(ctx context.Context, req *riak.RpbGetBucketReq) (*riak.RpbGetBucketResp, error) {
	resp := new(riak.RpbGetBucketResp)
	if err := c.Do(ctx, CodeGetBucketReq, req, CodeGetBucketResp, resp); err != nil {
		return nil, fmt.Errorf("riak: get bucket %s: %w", name(req.GetType(), req.GetBucket(), nil), err)
	}
	return resp, nil
}

// SetBucket sets a bucket's properties.
func (c *Conn) SetBucket(ctx context.Context, req *riak.RpbSetBucketReq) error {
	if err := c.Do(ctx, CodeSetBucketReq, req, CodeSetBucketResp, nil); err != nil {
		return fmt.Errorf("riak: set bucket %s: %w", name(req.GetType(), req.GetBucket(), nil), err)
	}
	return nil
}

// ResetBucket resets a bucket's properties to its type's.
func (c *Conn) ResetBucket(ctx context.Context, req *riak.RpbResetBucketReq) error {
	if err := c.Do(ctx, CodeResetBucketReq, req, CodeResetBucketResp, nil); err != nil {
		return fmt.Errorf("riak: reset bucket %s: %w", name(req.GetType(), req.GetBucket(), nil), err)
	}
	return nil
}

// GetBucketType returns a bucket type's properties (Riak answers with
// RpbGetBucketResp).
func (c *Conn) GetBucketType(ctx context.Context, req *riak.RpbGetBucketTypeReq) (*riak.RpbGetBucketResp, error) {
	resp := new(riak.RpbGetBucketResp)
	if err := c.Do(ctx, CodeGetBucketTypeReq, req, CodeGetBucketResp, resp); err != nil {
		return nil, fmt.Errorf("riak: get bucket type %s: %w", part(req.GetType()), err)
	}
	return resp, nil
}

// SetBucketType sets a bucket type's properties (Riak answers with
// RpbSetBucketResp).
func (c *Conn) SetBucketType(ctx context.Context, req *riak.RpbSetBucketTypeReq) error {
	if err := c.Do(ctx, CodeSetBucketTypeReq, req, CodeSetBucketResp, nil); err != nil {
		return fmt.Errorf("riak: set bucket type %s: %w", part(req.GetType()), err)
	}
	return nil
}

// DtFetch fetches a data type. Not found is a response without value: see
// DtNotFound.
func (c *Conn) DtFetch(ctx context.Context, req *riak_dt.DtFetchReq) (*riak_dt.DtFetchResp, error) {
	resp := new(riak_dt.DtFetchResp)
	if err := c.Do(ctx, CodeDtFetchReq, req, CodeDtFetchResp, resp); err != nil {
		return nil, fmt.Errorf("riak: fetch %s: %w", name(req.GetType(), req.GetBucket(), req.GetKey()), err)
	}
	return resp, nil
}

// DtUpdate applies an operation to a data type.
func (c *Conn) DtUpdate(ctx context.Context, req *riak_dt.DtUpdateReq) (*riak_dt.DtUpdateResp, error) {
	resp := new(riak_dt.DtUpdateResp)
	if err := c.Do(ctx, CodeDtUpdateReq, req, CodeDtUpdateResp, resp); err != nil {
		return nil, fmt.Errorf("riak: update %s: %w", name(req.GetType(), req.GetBucket(), req.GetKey()), err)
	}
	return resp, nil
}

// stream runs a request whose response is a series of frames of type T,
// decoding each, passing it to fn and stopping after the one for which
// done reports true.
func stream[T any, P interface {
	*T
	proto.Message
}](ctx context.Context, c *Conn, code byte, req proto.Message, want byte, done func(P) bool, fn func(P) error) error {
	return c.Stream(ctx, code, req, want, func(body []byte) (bool, error) {
		m := P(new(T))
		if err := decode(body, m); err != nil {
			return false, err
		}
		d := done(m)
		return d, fn(m)
	})
}
