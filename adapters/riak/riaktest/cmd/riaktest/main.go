// Command riaktest runs riaktest's emulated Riak cluster as a process of
// its own, for the chat's load generator and for trying the Riak adapter
// by hand. It prints the cluster's Strata URL on its first line and
// serves until interrupted:
//
//	go run ./adapters/riak/riaktest/cmd/riaktest -nodes 3
//	riak://127.0.0.1:41234,127.0.0.1:41235,127.0.0.1:41236?n_val=3
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/strata-go/strata/adapters/riak/riaktest"
)

func main() {
	nodes := flag.Int("nodes", 3, "emulated Riak nodes")
	nval := flag.Int("n", 3, "replicas of each object (n_val in the URL)")
	flag.Parse()
	c, err := riaktest.NewCluster(riaktest.Options{Nodes: *nodes})
	if err != nil {
		fmt.Fprintln(os.Stderr, "riaktest:", err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Printf("riak://%s?n_val=%d\n", strings.Join(c.Addrs(), ","), min(*nval, *nodes))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
