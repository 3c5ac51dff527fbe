package riaktest

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/strata-go/strata/adapters/riak/pb"
)

// Options configures a Cluster. The zero value is a three-node cluster
// with Riak's defaults.
type Options struct {
	// Nodes is the number of nodes (default 3).
	Nodes int

	// RingSize is the number of partitions, a power of two (default 64, as
	// Riak's ring_creation_size).
	RingSize int

	// MaxFrame is the largest request frame a node accepts, in bytes
	// (default pb.MaxFrame). A longer frame closes the connection.
	MaxFrame int

	// DeleteMode is how long a tombstone stays after a delete that reached
	// every primary replica, like Riak's delete_mode (default 3s, as
	// Riak's). A negative value keeps tombstones forever (delete_mode
	// keep).
	DeleteMode time.Duration
}

// A Cluster is a running set of emulated Riak nodes sharing one ring.
// Its methods are safe for concurrent use.
type Cluster struct {
	opts  Options
	ring  ring
	nodes []*node
	wg    sync.WaitGroup // accept loops and connections

	mu      sync.Mutex // guards the fields below
	closed  bool
	up      []bool
	group   []int // partition group of each node
	vnodes  map[vnodeID]*vnode
	types   map[string]*riak.RpbBucketProps // type name -> props set on it
	buckets map[bucketID]*riak.RpbBucketProps
}

// A bucketID names a bucket within its type.
type bucketID struct{ typ, bucket string }

// A bkey names an object.
type bkey struct{ typ, bucket, key string }

func (k bkey) bucketID() bucketID { return bucketID{k.typ, k.bucket} }

// An entry is an object as one vnode holds it.
type entry struct {
	obj    *object
	reapAt time.Time // when a tombstone goes away; zero: never
}

const defaultType = "default"

// NewCluster starts a cluster of opts.Nodes nodes, each listening on its
// own port of 127.0.0.1. Close stops it.
func NewCluster(opts Options) (*Cluster, error) {
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.RingSize == 0 {
		opts.RingSize = 64
	}
	if opts.MaxFrame <= 0 {
		opts.MaxFrame = pb.MaxFrame
	}
	if opts.DeleteMode == 0 {
		opts.DeleteMode = 3 * time.Second
	}
	switch {
	case opts.Nodes < 1:
		return nil, fmt.Errorf("riaktest: %d nodes", opts.Nodes)
	case opts.RingSize < 1 || opts.RingSize&(opts.RingSize-1) != 0:
		return nil, fmt.Errorf("riaktest: ring size %d is not a power of two", opts.RingSize)
	}
	c := &Cluster{
		opts:    opts,
		ring:    newRing(opts.RingSize, opts.Nodes),
		up:      make([]bool, opts.Nodes),
		group:   make([]int, opts.Nodes),
		vnodes:  map[vnodeID]*vnode{},
		types:   map[string]*riak.RpbBucketProps{defaultType: {}},
		buckets: map[bucketID]*riak.RpbBucketProps{},
	}
	for i := range opts.Nodes {
		c.up[i] = true
		n := &node{c: c, index: i, name: nodeName(i, opts.Nodes), addr: "127.0.0.1:0", conns: map[net.Conn]struct{}{}}
		c.nodes = append(c.nodes, n)
		if err := n.listen(); err != nil {
			c.Close()
			return nil, fmt.Errorf("riaktest: %w", err)
		}
	}
	return c, nil
}

// Start starts a cluster as NewCluster does and stops it when tb's test
// ends. It fails the test if the cluster cannot start.
func Start(tb testing.TB, opts Options) *Cluster {
	tb.Helper()
	c, err := NewCluster(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// nodeName returns the Erlang node name of node i: riak@127.0.0.1 for a
// single node, dev1@127.0.0.1, dev2@... for several (as Riak's devrel).
func nodeName(i, nodes int) string {
	if nodes == 1 {
		return "riak@127.0.0.1"
	}
	return fmt.Sprintf("dev%d@127.0.0.1", i+1)
}

// Addrs returns the "host:port" address of every node, in node order.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.addr
	}
	return addrs
}

// Close stops every node, closes every connection and waits for the
// cluster's goroutines to end. Closing twice is harmless.
func (c *Cluster) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	for _, n := range c.nodes {
		n.stop()
	}
	c.wg.Wait()
	return nil
}

func (c *Cluster) checkNode(i int) {
	if i < 0 || i >= len(c.up) {
		panic(fmt.Sprintf("riaktest: no node %d in a cluster of %d", i, len(c.up)))
	}
}

// NodeDown stops node i as if it crashed: its connections are closed,
// new ones are refused (its listener is closed), and its vnodes are
// unreachable from the other nodes. Its data is kept for NodeUp.
func (c *Cluster) NodeDown(i int) {
	c.checkNode(i)
	c.mu.Lock()
	c.up[i] = false
	c.mu.Unlock()
	c.nodes[i].stop()
}

// NodeUp restarts node i with the data it held. As with Riak, the writes
// it missed reach it through read repair, or through Converge (hinted
// handoff and anti-entropy), not by themselves.
//
// It listens again on the node's address; it panics if that address has
// been taken meanwhile (a test's own bug, as an index out of range is).
func (c *Cluster) NodeUp(i int) {
	c.checkNode(i)
	c.mu.Lock()
	if c.up[i] || c.closed {
		c.mu.Unlock()
		return
	}
	c.up[i] = true
	c.mu.Unlock()
	if err := c.nodes[i].listen(); err != nil {
		panic(fmt.Sprintf("riaktest: node %d cannot listen again: %v", i, err))
	}
}

// Partition splits the network: nodes in different groups cannot reach
// each other's vnodes, and a node listed in no group is cut off from all
// others. A client connected to a node sees only that node's side. A new
// Partition replaces the previous one.
func (c *Cluster) Partition(groups ...[]int) {
	for _, g := range groups {
		for _, i := range g {
			c.checkNode(i)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.group {
		c.group[i] = -1 - i
	}
	for gi, g := range groups {
		for _, i := range g {
			c.group[i] = gi
		}
	}
}

// Heal ends any partition. Replicas stay divergent until read repair or
// Converge.
func (c *Cluster) Heal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.group)
}

// reachable reports whether node from can reach node to's vnodes.
func (c *Cluster) reachable(from, to int) bool {
	return c.up[from] && c.up[to] && c.group[from] == c.group[to]
}

// Converge brings every replica of every object to the same state, as
// Riak's hinted handoff followed by active anti-entropy would: the copies
// on all vnodes (primaries and fallbacks, whatever the faults) are merged,
// the merged object is stored on every primary, and fallback copies are
// dropped. Call it after Heal and NodeUp.
func (c *Cluster) Converge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	merged := map[bkey]*object{}
	for id, vn := range c.vnodes {
		for k := range vn.objects {
			if e := c.entry(id, k, now); e != nil {
				merged[k] = mergeObjects(merged[k], e.obj, c.props(k.bucketID()).GetAllowMult())
			}
		}
		if c.ring.owner(id.partition) != id.node {
			delete(c.vnodes, id)
		}
	}
	for k, obj := range merged {
		props := c.props(k.bucketID())
		var reapAt time.Time
		if !obj.live() && c.opts.DeleteMode >= 0 {
			reapAt = now.Add(c.opts.DeleteMode)
		}
		first := c.ring.firstPartition(k.typ, k.bucket, k.key)
		for _, p := range c.ring.preflist(first, int(props.GetNVal())) {
			c.vnode(vnodeID{c.ring.owner(p), p}).put(k, &entry{obj: obj, reapAt: reapAt}, first)
		}
	}
}

// vnode returns the vnode id, creating it if needed.
func (c *Cluster) vnode(id vnodeID) *vnode {
	vn := c.vnodes[id]
	if vn == nil {
		vn = newVnode()
		c.vnodes[id] = vn
	}
	return vn
}

// entry returns what vnode id holds for k, or nil, reaping a tombstone
// whose time has come.
func (c *Cluster) entry(id vnodeID, k bkey, now time.Time) *entry {
	e, due := c.held(id, k, now)
	if due {
		c.vnodes[id].remove(k)
	}
	return e
}

// peek returns what vnode id holds for k, or nil, as entry does but
// without reaping (for a reader that iterates the vnode's keys).
func (c *Cluster) peek(id vnodeID, k bkey, now time.Time) *entry {
	e, _ := c.held(id, k, now)
	return e
}

// held returns what vnode id holds for k: nil for nothing, or for a
// tombstone whose time has come (due).
func (c *Cluster) held(id vnodeID, k bkey, now time.Time) (e *entry, due bool) {
	if vn := c.vnodes[id]; vn != nil {
		e = vn.objects[k]
	}
	if e != nil && !e.reapAt.IsZero() && !now.Before(e.reapAt) {
		return nil, true
	}
	return e, false
}

// A Replica is one vnode's copy of an object, as Replicas reports it.
type Replica struct {
	Node      int  // node holding the vnode
	Partition int  // partition of the vnode
	Primary   bool // false for a fallback vnode
	VClock    []byte
	Siblings  []Sibling
}

// A Sibling is one value of a Replica.
type Sibling struct {
	Value       []byte
	ContentType string
	VTag        string
	Deleted     bool // a tombstone
}

// Replicas returns every vnode's copy of the object (bucketType, bucket,
// key), primaries and fallbacks, ordered by partition then node, whatever
// the faults. Tests use it to check that replicas agree.
func (c *Cluster) Replicas(bucketType, bucket, key string) []Replica {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := bkey{bucketType, bucket, key}
	now := time.Now()
	var out []Replica
	for id := range c.vnodes {
		e := c.entry(id, k, now)
		if e == nil {
			continue
		}
		r := Replica{Node: id.node, Partition: id.partition, Primary: c.ring.owner(id.partition) == id.node, VClock: e.obj.clock.encode()}
		for _, s := range e.obj.siblings {
			r.Siblings = append(r.Siblings, Sibling{
				Value:       s.content.Value,
				ContentType: string(s.content.ContentType),
				VTag:        string(s.content.Vtag),
				Deleted:     s.deleted(),
			})
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Replica) int {
		if a.Partition != b.Partition {
			return a.Partition - b.Partition
		}
		return a.Node - b.Node
	})
	return out
}

// SetBucketType creates the bucket type name, or updates its properties,
// as `riak admin bucket-type create` and `activate` (or `update`) would. A
// new type starts from Riak's defaults for custom types (allow_mult=true,
// dvv_enabled=true); props, which may be nil, override them.
func (c *Cluster) SetBucketType(name string, props *riak.RpbBucketProps) error {
	if name == "" {
		return errors.New("riaktest: empty bucket type name")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setTypeProps(name, props)
}
