package snowflake_test

import (
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/strata-go/strata/snowflake"
)

func Example() {
	// In production: snowflake.New(nodeFromConfig). Here a frozen clock makes
	// the output reproducible.
	now := time.Date(2025, 3, 14, 15, 9, 26, 535_897_000, time.UTC)
	gen, err := snowflake.New(7, snowflake.WithClock(func() time.Time { return now }))
	if err != nil {
		log.Fatal(err)
	}

	id, _ := gen.Next()
	next, _ := gen.Next()
	fmt.Println(id, next, next > id)
	fmt.Println(id.Time(), id.Node(), id.Seq(), next.Seq())

	// IDs travel through JSON as strings, safe for JavaScript.
	type Message struct {
		ID   snowflake.ID `json:"id"`
		Body string       `json:"body"`
	}
	b, err := json.Marshal(Message{ID: id, Body: "hi"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))

	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.ID == id)

	_, err = snowflake.Parse("12abc")
	fmt.Println(err)

	// Output:
	// 158954753768845312 158954753768845313 true
	// 2025-03-14 15:09:26.535 +0000 UTC 7 0 1
	// {"id":"158954753768845312","body":"hi"}
	// true
	// snowflake: invalid ID "12abc": invalid character 'a' at byte 2 (want decimal digits)
}

// When the clock steps back, a Generator keeps issuing increasing IDs from its
// last (logical) millisecond; once the clock catches up, IDs follow it again.
func Example_clockStepBack() {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	gen, err := snowflake.New(1, snowflake.WithClock(func() time.Time { return now }))
	if err != nil {
		log.Fatal(err)
	}

	a, _ := gen.Next()
	now = now.Add(-5 * time.Second) // e.g. an NTP correction
	b, _ := gen.Next()
	now = now.Add(6 * time.Second)
	c, _ := gen.Next()

	for _, id := range []snowflake.ID{a, b, c} {
		fmt.Println(id.Time().Format(time.StampMilli), id.Seq())
	}
	fmt.Println(a < b && b < c)

	// Output:
	// Jan  1 12:00:00.000 0
	// Jan  1 12:00:00.000 1
	// Jan  1 12:00:01.000 0
	// true
}

// Bounds turns a time range into an ID range, for queries over ID columns.
func ExampleBounds() {
	from := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2025, 5, 31, 23, 59, 59, 999_000_000, time.UTC)
	lo, _ := snowflake.Bounds(from)
	_, hi := snowflake.Bounds(to)
	fmt.Printf("WHERE id BETWEEN %d AND %d\n", lo, hi)
	fmt.Println(lo.Time(), hi.Time())

	// Output:
	// WHERE id BETWEEN 176120502681600000 AND 187354526515199999
	// 2025-05-01 00:00:00 +0000 UTC 2025-05-31 23:59:59.999 +0000 UTC
}
