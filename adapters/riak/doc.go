// Package riak is Strata's adapter for Riak KV (AP): records as Riak
// objects whose siblings the adapter merges by the schema's merge
// policies, over the PB client of package pb.
//
// This package is being built (see the Riak issue); so far it holds the
// record state: each field with the metadata its merge policy needs
// (state.go), and its compact encoding as an object's value (object.go).
package riak
