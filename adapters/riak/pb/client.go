package pb

import (
	"context"
	"strconv"
	"unicode/utf8"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/basho/riak-go-client/rpb/riak_dt"
	"github.com/basho/riak-go-client/rpb/riak_kv"
)

// Client is the set of operations of Riak's PB API that Strata uses. Both
// *Conn (one connection) and *Cluster (pooled connections to several nodes,
// with failover) implement it.
//
// Requests and responses are the generated rpb messages, so every option
// of the protocol is available; proto2 presence applies, so leave a field
// nil for the bucket's default. The messages passed in are only read.
// A failure reported by Riak is a *Error (use errors.As); any other error
// is a client-side or connection failure.
type Client interface {
	// Ping checks that the node answers.
	Ping(ctx context.Context) error
	// ServerInfo returns the node's name and version.
	ServerInfo(ctx context.Context) (*riak.RpbGetServerInfoResp, error)

	// Get fetches an object. Not found is not an error: see IsNotFound.
	Get(ctx context.Context, req *riak_kv.RpbGetReq) (*riak_kv.RpbGetResp, error)
	// Put stores an object. The response is empty unless return_body or
	// return_head is set, or the server chose the key.
	Put(ctx context.Context, req *riak_kv.RpbPutReq) (*riak_kv.RpbPutResp, error)
	// Delete deletes an object; deleting a missing key succeeds.
	Delete(ctx context.Context, req *riak_kv.RpbDelReq) error

	// Index runs a secondary-index query and returns one page: keys (or
	// results, with return_terms) and the continuation of the next page,
	// if any. With stream=true the frames are merged into one response.
	Index(ctx context.Context, req *riak_kv.RpbIndexReq) (*riak_kv.RpbIndexResp, error)
	// IndexStream runs a secondary-index query and calls fn with each
	// response frame, the last one (done=true, possibly carrying the
	// continuation) included. Without stream=true there is one frame.
	IndexStream(ctx context.Context, req *riak_kv.RpbIndexReq, fn func(*riak_kv.RpbIndexResp) error) error
	// ListKeys lists every key of a bucket (a full scan: never in
	// production paths), calling fn with each non-empty batch.
	ListKeys(ctx context.Context, req *riak_kv.RpbListKeysReq, fn func(keys [][]byte) error) error
	// ListBuckets lists the buckets of a bucket type (a full scan),
	// calling fn with each non-empty batch; req may be nil.
	ListBuckets(ctx context.Context, req *riak_kv.RpbListBucketsReq, fn func(buckets [][]byte) error) error

	// GetBucket returns a bucket's properties.
	GetBucket(ctx context.Context, req *riak.RpbGetBucketReq) (*riak.RpbGetBucketResp, error)
	// SetBucket sets a bucket's properties.
	SetBucket(ctx context.Context, req *riak.RpbSetBucketReq) error
	// ResetBucket resets a bucket's properties to its type's.
	ResetBucket(ctx context.Context, req *riak.RpbResetBucketReq) error
	// GetBucketType returns a bucket type's properties.
	GetBucketType(ctx context.Context, req *riak.RpbGetBucketTypeReq) (*riak.RpbGetBucketResp, error)
	// SetBucketType sets a bucket type's properties.
	SetBucketType(ctx context.Context, req *riak.RpbSetBucketTypeReq) error

	// DtFetch fetches a data type. Not found is not an error: see
	// DtNotFound.
	DtFetch(ctx context.Context, req *riak_dt.DtFetchReq) (*riak_dt.DtFetchResp, error)
	// DtUpdate applies an operation to a data type.
	DtUpdate(ctx context.Context, req *riak_dt.DtUpdateReq) (*riak_dt.DtUpdateResp, error)
}

var (
	_ Client = (*Conn)(nil)
	_ Client = (*Cluster)(nil)
)

// IsNotFound reports whether a Get found no object: no content and no
// "unchanged" answer. A deleted object asked for with deletedvclock=true
// is also not found; its tombstone's vclock is then set (see IsTombstone).
func IsNotFound(resp *riak_kv.RpbGetResp) bool {
	return len(resp.GetContent()) == 0 && !resp.GetUnchanged()
}

// IsTombstone reports whether a Get with deletedvclock=true found a
// deleted object: no content, but a vclock.
func IsTombstone(resp *riak_kv.RpbGetResp) bool {
	return len(resp.GetContent()) == 0 && len(resp.GetVclock()) > 0
}

// DtNotFound reports whether a DtFetch found no data type: the response
// has no value (its type is still set).
func DtNotFound(resp *riak_dt.DtFetchResp) bool {
	return resp.GetValue() == nil
}

// The special secondary indexes.
const (
	// IndexBucket, queried with eq and the bucket name as key, matches
	// every key of the bucket.
	IndexBucket = "$bucket"
	// IndexKey, queried with range, matches keys between two bounds.
	IndexKey = "$key"
)

// IndexEq returns a request for the keys whose index term equals key.
// Set Type, MaxResults, Continuation, ... on the result as needed.
func IndexEq(bucket, index, key string) *riak_kv.RpbIndexReq {
	return &riak_kv.RpbIndexReq{
		Bucket: []byte(bucket),
		Index:  []byte(index),
		Qtype:  riak_kv.RpbIndexReq_eq.Enum(),
		Key:    []byte(key),
	}
}

// IndexRange returns a request for the keys whose index term lies between
// min and max, both inclusive (integer terms in decimal for _int indexes).
func IndexRange(bucket, index, min, max string) *riak_kv.RpbIndexReq {
	return &riak_kv.RpbIndexReq{
		Bucket:   []byte(bucket),
		Index:    []byte(index),
		Qtype:    riak_kv.RpbIndexReq_range.Enum(),
		RangeMin: []byte(min),
		RangeMax: []byte(max),
	}
}

// name formats a bucket type, bucket and key for an error message:
// "bucket/key", or "type/bucket/key" outside the default type; a part that
// is not printable UTF-8 is quoted.
func name(typ, bucket, key []byte) string {
	s := part(bucket)
	if len(typ) > 0 && string(typ) != "default" {
		s = part(typ) + "/" + s
	}
	if key != nil {
		s += "/" + part(key)
	}
	return s
}

func part(b []byte) string {
	s := string(b)
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !strconv.IsPrint(r) || r == '/' {
			return strconv.Quote(s)
		}
	}
	return s
}
