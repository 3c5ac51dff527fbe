//go:build !unix

package pb

// alive cannot peek at a socket here: the request finds out.
func (c *Conn) alive() bool { return c.r.Buffered() == 0 }
