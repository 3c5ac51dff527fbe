//go:build unix

package pb

import (
	"errors"
	"syscall"
)

// alive reports whether an idle connection is still open: a peek that may
// not wait finds neither data (an idle connection has no reply pending)
// nor the end of the stream. (A read with a deadline in the past would
// not do: Go fails it before it reads.)
func (c *Conn) alive() bool {
	if c.r.Buffered() > 0 {
		return false
	}
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
		return true
	})
	return err == nil && alive
}
