package riak

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"

	"github.com/strata-go/strata/repo/driver"
)

// An actor is the writer of one write at a time. A writer's entries in a
// counter (its running totals) and in a set (its dots and clock) must
// form a line: each of its writes to a record must start from a state
// that holds its previous one. A read need not hold it: Riak's sloppy
// quorum may answer from replicas that missed a write a fallback took.
// So an actor remembers its own entries in the records it wrote last
// (known), and merges them into what it reads before it writes. When it
// forgets one (its memory is full) or a write fails (it may have been
// applied), it takes a new id: the old one then never writes again, so
// its line cannot fork.
type actor struct {
	id    string
	known map[string]*list.Element // record -> entry in order
	order *list.List               // of *knownState, most recent first
}

type knownState struct {
	record string
	st     *state // the actor's entries only
}

// actorMemory is how many records an actor remembers its entries in.
const actorMemory = 1024

func newActor() *actor {
	a := &actor{}
	a.retire()
	return a
}

// retire gives the actor a new id and forgets everything.
func (ac *actor) retire() {
	var b [8]byte
	rand.Read(b[:])
	ac.id = hex.EncodeToString(b[:])
	ac.known = map[string]*list.Element{}
	ac.order = list.New()
}

// recall merges into st the actor's own entries of the record, as it
// last wrote them.
func (ac *actor) recall(c *driver.Collection, record string, st *state) (*state, error) {
	e, ok := ac.known[record]
	if !ok {
		return st, nil
	}
	ac.order.MoveToFront(e)
	return merge(c, st, e.Value.(*knownState).st)
}

// remember keeps the actor's entries of st, just written to record. If
// that makes it forget another record, it retires.
func (ac *actor) remember(record string, st *state) {
	own := st.project(ac.id)
	if e, ok := ac.known[record]; ok {
		e.Value.(*knownState).st = own
		ac.order.MoveToFront(e)
		return
	}
	if ac.order.Len() >= actorMemory {
		ac.retire()
	}
	ac.known[record] = ac.order.PushFront(&knownState{record: record, st: own})
}

// project returns the part of s that writer id wrote: its counter totals,
// its dots and its clock entries.
func (s *state) project(id string) *state {
	out := newState()
	for name, fs := range s.fields {
		p := &fieldState{policy: fs.policy}
		keep := false
		if c, ok := fs.counts[id]; ok {
			p.counts = map[string]pn{id: c}
			keep = true
		}
		for e, dots := range fs.elems {
			if i := slices.IndexFunc(dots, func(d dot) bool { return d.writer == id }); i >= 0 {
				if p.elems == nil {
					p.elems = map[string][]dot{}
				}
				p.elems[e] = []dot{dots[i]}
				keep = true
			}
		}
		if n, ok := fs.clock[id]; ok {
			p.clock = map[string]uint64{id: n}
			keep = true
		}
		if keep {
			out.fields[name] = p
		}
	}
	return out
}

// actor takes an actor for one write; done gives it back, retiring it if
// the write failed.
func (a *Adapter) actor(ctx context.Context) (*actor, func(failed bool), error) {
	select {
	case ac := <-a.actors:
		return ac, func(failed bool) {
			if failed {
				ac.retire()
			}
			a.actors <- ac
		}, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}
