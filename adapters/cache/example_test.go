package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-go/strata/adapters/cache"
	"github.com/strata-go/strata/adapters/memory"
	"github.com/strata-go/strata/pubsub"
	"github.com/strata-go/strata/repo"
	"github.com/strata-go/strata/schema"
)

// Two app nodes, each with its own cache over one store, kept coherent by
// a bus (in process here; Redis or PostgreSQL across machines).
func Example() {
	ctx := context.Background()
	store := memory.New()
	bus := pubsub.NewLocal()
	defer bus.Close()

	type Profile struct {
		_    struct{} `strata:"table=profiles"`
		ID   int64
		Name string
	}
	node := func() (*cache.Adapter, *repo.Repo) {
		a, err := cache.New(&sharedStore{store}, cache.Options{Namespace: "example", Bus: bus})
		if err != nil {
			panic(err)
		}
		r, err := repo.New(a)
		if err != nil {
			panic(err)
		}
		return a, r
	}
	a1, r1 := node()
	defer r1.Close()
	_, r2 := node()
	defer r2.Close()

	_ = r1.Insert(ctx, &Profile{ID: 1, Name: "Ada"})
	var p Profile
	_ = r1.Get(ctx, &p, 1) // from the store, now in node 1's L1
	_ = r1.Get(ctx, &p, 1) // from node 1's L1
	fmt.Println(p.Name, a1.Stats().L1Hits, "hit")

	// A write on node 2 invalidates node 1's copy through the bus.
	_ = r2.Update(ctx, schema.NewChangeset(&Profile{ID: 1}).Put("name", "Ada L."))
	for r1.Get(ctx, &p, 1) == nil && p.Name != "Ada L." {
		time.Sleep(time.Millisecond) // the bus delivers asynchronously
	}
	fmt.Println(p.Name)
	// Output:
	// Ada 1 hit
	// Ada L.
}

// sharedStore lets two nodes of the example share one memory store:
// closing a node does not close it.
type sharedStore struct{ *memory.Adapter }

func (sharedStore) Close() error { return nil }
