// Package faultproxy is a TCP proxy for tests that breaks the connections
// through it on demand: it slows them down, stalls them (a dead network
// path: bytes vanish, nobody is told) or cuts them and refuses new ones (a
// server that is down), without touching the server behind it, which
// other tests share.
package faultproxy

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards the connections made to Addr to a target address.
type Proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	delay  atomic.Int64 // nanoseconds each chunk of bytes waits before it is forwarded

	mu       sync.Mutex
	links    map[*link]struct{}
	refusing bool
	closed   bool
}

// link is one proxied connection: the client's and the server's side.
type link struct {
	client, server net.Conn
	stalled        atomic.Bool
}

func (l *link) close() {
	l.client.Close()
	l.server.Close()
}

// Start starts a proxy to target on a free loopback port; it is stopped,
// and its connections closed, when t ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faultproxy: %v", err)
	}
	p := &Proxy{ln: ln, target: target, links: make(map[*link]struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// Addr returns the proxy's address, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stall makes every current connection stop carrying bytes, both ways,
// while staying open: what is written to it vanishes and nothing comes
// from it, and no side is told. New connections work.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.links {
		l.stalled.Store(true)
	}
}

// SetDelay makes every chunk of bytes read from either side wait d
// before it is forwarded (in order), as over a slow network.
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Cut closes every current connection and refuses new ones (accepting
// and closing them at once) until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refusing = true
	for l := range p.links {
		l.close()
	}
}

// Restore makes the proxy accept connections again after Cut.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refusing = false
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	for l := range p.links {
		l.close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refusing || p.closed
		p.mu.Unlock()
		if refuse {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		l := &link{client: c, server: s}
		p.mu.Lock()
		if p.closed || p.refusing {
			p.mu.Unlock()
			l.close()
			continue
		}
		p.links[l] = struct{}{}
		p.mu.Unlock()
		var done sync.WaitGroup
		done.Go(func() { p.pipe(l, l.server, l.client) })
		done.Go(func() { p.pipe(l, l.client, l.server) })
		p.wg.Go(func() {
			done.Wait()
			p.mu.Lock()
			delete(p.links, l)
			p.mu.Unlock()
		})
	}
}

// pipe copies from src to dst until either fails, dropping the bytes once
// the link is stalled; then it closes the link.
func (p *Proxy) pipe(l *link, dst, src net.Conn) {
	defer l.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if d := time.Duration(p.delay.Load()); n > 0 && d > 0 {
			time.Sleep(d)
		}
		if n > 0 && !l.stalled.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
