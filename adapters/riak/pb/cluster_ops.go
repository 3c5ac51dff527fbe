package pb

import (
	"context"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/basho/riak-go-client/rpb/riak_dt"
	"github.com/basho/riak-go-client/rpb/riak_kv"
)

// The operations of Client on a Cluster: each borrows a pooled connection
// and runs the Conn operation of the same name on it, under the retry rules
// documented on Cluster.

// idempotent allows a retry after any connection error.
func idempotent() bool { return true }

// Ping checks that a node answers.
func (cl *Cluster) Ping(ctx context.Context) error {
	return cl.run(ctx, idempotent, func(c *Conn) error { return c.Ping(ctx) })
}

// ServerInfo returns a node's name and version.
func (cl *Cluster) ServerInfo(ctx context.Context) (resp *riak.RpbGetServerInfoResp, err error) {
	err = cl.run(ctx, idempotent, func(c *Conn) (err error) {
		resp, err = c.ServerInfo(ctx)
		return err
	})
	return resp, err
}

// Get fetches an object (see Conn.Get).
func (cl *Cluster) Get(ctx context.Context, req *riak_kv.RpbGetReq) (resp *riak_kv.RpbGetResp, err error) {
	err = cl.run(ctx, idempotent, func(c *Conn) (err error) {
		resp, err = c.Get(ctx, req)
		return err
	})
	return resp, err
}

// Put stores an object (see Conn.Put). It is retried after a connection
// error only if it could not have been sent, unless it is an update of a
// known version: with a key and a vclock, and neither if_none_match nor
// if_not_modified (whose retry could report a conflict with itself).
func (cl *Cluster) Put(ctx context.Context, req *riak_kv.RpbPutReq) (resp *riak_kv.RpbPutResp, err error) {
	var retry func() bool
	if len(req.GetKey()) > 0 && len(req.GetVclock()) > 0 && !req.GetIfNoneMatch() && !req.GetIfNotModified() {
		retry = idempotent
	}
	err = cl.run(ctx, retry, func(c *Conn) (err error) {
		resp, err = c.Put(ctx, req)
		return err
	})
	return resp, err
}

// Delete deletes an object (see Conn.Delete). It is retried only if it
// could not have been sent.
func (cl *Cluster) Delete(ctx context.Context, req *riak_kv.RpbDelReq) error {
	return cl.run(ctx, nil, func(c *Conn) error { return c.Delete(ctx, req) })
}

// Index runs a secondary-index query (see Conn.Index).
func (cl *Cluster) Index(ctx context.Context, req *riak_kv.RpbIndexReq) (resp *riak_kv.RpbIndexResp, err error) {
	err = cl.run(ctx, idempotent, func(c *Conn) (err error) {
		resp, err = c.Index(ctx, req)
		return err
	})
	return resp, err
}

// IndexStream runs a secondary-index query, calling fn per frame (see
// Conn.IndexStream). It is retried after a connection error only until fn
// has been called.
func (cl *Cluster) IndexStream(ctx context.Context, req *riak_kv.RpbIndexReq, fn func(*riak_kv.RpbIndexResp) error) error {
	called := false
	return cl.run(ctx, func() bool { return !called }, func(c *Conn) error {
		return c.IndexStream(ctx, req, func(r *riak_kv.RpbIndexResp) error {
			called = true
			return fn(r)
		})
	})
}

// ListKeys lists the keys of a bucket (see Conn.ListKeys). A full scan is
// retried only if it could not have been sent.
func (cl *Cluster) ListKeys(ctx context.Context, req *riak_kv.RpbListKeysReq, fn func(keys [][]byte) error) error {
	return cl.run(ctx, nil, func(c *Conn) error { return c.ListKeys(ctx, req, fn) })
}

// ListBuckets lists the buckets of a type (see Conn.ListBuckets). A full
// scan is retried only if it could not have been sent.
func (cl *Cluster) ListBuckets(ctx context.Context, req *riak_kv.RpbListBucketsReq, fn func(buckets [][]byte) error) error {
	return cl.run(ctx, nil, func(c *Conn) error { return c.ListBuckets(ctx, req, fn) })
}

// GetBucket returns a bucket's properties.
func (cl *Cluster) GetBucket(ctx context.Context, req *riak.RpbGetBucketReq) (resp *riak.RpbGetBucketResp, err error) {
	err = cl.run(ctx, idempotent, func(c *Conn) (err error) {
		resp, err = c.GetBucket(ctx, req)
		return err
	})
	return resp, err
}

// SetBucket sets a bucket's properties (idempotent: retried).
func (cl *Cluster) SetBucket(ctx context.Context, req *riak.RpbSetBucketReq) error {
	return cl.run(ctx, idempotent, func(c *Conn) error { return c.SetBucket(ctx, req) })
}

// ResetBucket resets a bucket's properties (idempotent: retried).
func (cl *Cluster) ResetBucket(ctx context.Context, req *riak.RpbResetBucketReq) error {
	return cl.run(ctx, idempotent, func(c *Conn) error { return c.ResetBucket(ctx, req) })
}

// GetBucketType returns a bucket type's properties.
func (cl *Cluster) GetBucketType(ctx context.Context, req *riak.RpbGetBucketTypeReq) (resp *riak.RpbGetBucketResp, err error) {
	err = cl.run(ctx, idempotent, func(c *Conn) (err error) {
		resp, err = c.GetBucketType(ctx, req)
		return err
	})
	return resp, err
}

// SetBucketType sets a bucket type's properties (idempotent: retried).
func (cl *Cluster) SetBucketType(ctx context.Context, req *riak.RpbSetBucketTypeReq) error {
	return cl.run(ctx, idempotent, func(c *Conn) error { return c.SetBucketType(ctx, req) })
}

// DtFetch fetches a data type (see Conn.DtFetch).
func (cl *Cluster) DtFetch(ctx context.Context, req *riak_dt.DtFetchReq) (resp *riak_dt.DtFetchResp, err error) {
	err = cl.run(ctx, idempotent, func(c *Conn) (err error) {
		resp, err = c.DtFetch(ctx, req)
		return err
	})
	return resp, err
}

// DtUpdate applies an operation to a data type (see Conn.DtUpdate). It is
// retried only if it could not have been sent: a counter increment or a
// set removal is not idempotent.
func (cl *Cluster) DtUpdate(ctx context.Context, req *riak_dt.DtUpdateReq) (resp *riak_dt.DtUpdateResp, err error) {
	err = cl.run(ctx, nil, func(c *Conn) (err error) {
		resp, err = c.DtUpdate(ctx, req)
		return err
	})
	return resp, err
}
