package schema_test

import (
	"fmt"
	"net/url"
	"regexp"

	"github.com/strata-go/strata/schema"
)

type User struct {
	_      struct{} `strata:"table=users"`
	ID     int64
	Email  string   `strata:"email,unique"`
	Name   string   `strata:"name"`
	Age    int      `strata:"age"`
	Logins int64    `strata:"logins,merge=counter"`
	Roles  []string `strata:"roles,merge=set"`
}

// A changeset casts form input onto a struct, validates it and collects
// field errors for the user; the repo then writes only what changed.
func ExampleCast() {
	form := url.Values{"email": {"ada@example"}, "name": {"A"}, "age": {"eleven"}, "admin": {"true"}}

	cs := schema.Cast(&User{}, form, "email", "name", "age").
		ValidateRequired("email", "name").
		ValidateFormat("email", regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[a-z]+$`)).
		ValidateLength("name", 2, 100)

	fmt.Println("valid:", cs.Valid())
	for _, e := range cs.Errors() {
		fmt.Printf("%s: %s (%s)\n", e.Field, e.Message, e.Rule)
	}
	// Output:
	// valid: false
	// age: is invalid (cast)
	// email: has invalid format (format)
	// name: should be at least 2 character(s) (length)
}

// Merge operations record intent, not values: the store applies them
// atomically, so concurrent writers never lose an increment or an element.
func ExampleChangeset_Increment() {
	u := &User{ID: 1, Logins: 41, Roles: []string{"member"}}
	cs := schema.NewChangeset(u).Increment("logins", 1).AddToSet("roles", "moderator")
	for _, c := range cs.Changes() {
		fmt.Println(c.Field.Name, c.Op, c.Value)
	}
	// Output:
	// logins increment 1
	// roles add [moderator]
}

// Schemas are parsed once per type from struct tags.
func ExampleOf() {
	s, err := schema.Of[User]()
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Name(), s.Key.Name)
	for _, f := range s.Fields {
		fmt.Println(" ", f.Name, f.Kind, f.Merge)
	}
	for _, ix := range s.Collection.Indexes {
		fmt.Println(" index", ix.Name, ix.Fields, "unique:", ix.Unique)
	}
	// Output:
	// users id
	//   id int lww
	//   email string lww
	//   name string lww
	//   age int lww
	//   logins int counter
	//   roles strings set
	//  index users_email_key [email] unique: true
}
