package pb

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An idle connection is alive until its peer closes it.
func TestConnAlive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c, err := Dial(t.Context(), ln.Addr().String(), ConnOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	server := <-accepted
	require.NotNil(t, server)
	require.True(t, c.alive(), "an open idle connection")
	require.True(t, c.alive(), "probing does not disturb it")
	server.Close()
	require.Eventually(t, func() bool { return !c.alive() }, 5*time.Second, 5*time.Millisecond, "a connection its peer closed")
}
