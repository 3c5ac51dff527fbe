package pb

import (
	"encoding/hex"
	"net"
	"sync"
	"testing"
)

// Frames captured from Riak 3.2.1 (../shared/reference/riak_wire_vectors.txt):
// each request (C->S) and the frames the node answered (S->C), in hex.
var vectors = []struct {
	name string
	req  string
	resp []string
}{
	{"ping", "0000000101", []string{"0000000102"}},
	{"server info", "0000000107", []string{"00000018080a0e7269616b403132372e302e302e311205332e322e31"}},
	{"unknown code", "0000000163", []string{"0000001d000a18556e6b6e6f776e206d65737361676520636f64653a2039391000"}},
	{"get not found", "0000000e090a02747612076d697373696e67", []string{"000000010a"}},
	{"get zero-length key", "00000007090a0274761200", []string{"0000001e000a194b65792063616e6e6f74206265207a65726f2d6c656e6774681000"}},
	{"put 2i", "0000002e0b0a02747612026b3122230a04762d6b31120a746578742f706c61696e520f0a076964785f62696e1204782d6b31", []string{"000000010c"}},
	{"put server key", "0000000e0b0a0374763222060a04616e6f6e", []string{"0000001e0c1a1b55567a3056785567506f4a75506c6b717662374e70374a50507637"}},
	{"get found", "00000009090a02747612026b31", []string{"000000710a0a450a04762d6b31120a746578742f706c61696e2a163458334d733233665a6253554665764538696a306c3538dfc894d80640c7ce01520f0a076964785f62696e1204782d6b3112276bce61606060cc60ca05523cca9cff7e6afeab58cfc0506a98c194c898c7ca10bfa0f2095f1600"}},
	{"get head", "0000000b090a02747612026b314001", []string{"0000006d0a0a410a00120a746578742f706c61696e2a163458334d733233665a6253554665764538696a306c3538dfc894d80640c7ce01520f0a076964785f62696e1204782d6b3112276bce61606060cc60ca05523cca9cff7e6afeab58cfc0506a98c194c898c7ca10bfa0f2095f1600"}},
	{"index eq", "00000016190a02747612076964785f62696e18002204782d6b32", []string{"000000051a0a026b32"}},
	{"index range terms page", "0000001d190a02747612076964785f62696e18012a02782d3203782d7a38014802", []string{"000000371a120a0a04782d6b3112026b31120a0a04782d6b3212026b321a1c6732674362514141414152344c5773796251414141414a724d673d3d"}},
	{"index stream", "0000001b190a02747612076964785f62696e18012a02782d3203782d7a4001", []string{"000000091a0a026b320a026b31", "000000051a0a026b33", "000000031a2001"}},
	{"index $bucket", "00000014190a0274761207246275636b6574180022027476", []string{"0000000d1a0a026b330a026b320a026b31"}},
	{"list keys", "00000005110a027476", []string{"0000000d120a026b330a026b320a026b31", "00000003121001"}},
	{"list buckets stream", "000000030f1001", []string{"00000005100a027476", "00000004100a0162", "00000005100a026232", "00000006100a03747632", "00000003101001"}},
	{"delete", "000000090d0a02747612026b33", []string{"000000010e"}},
	{"get deletedvclock", "0000000b090a02747612026b334801", []string{"0000002a0a12276bce61606060cc60ca05523cca9cff7e6afeabe866602835cc604a64ca6365885f50f9842f0b00"}},
	{"set bucket", "0000000a150a0373696212021001", []string{"0000000116"}},
	{"put sibling return body", "000000120b0a0373696212017322050a0374776f3801", []string{"0000007c0c0a270a036f6e652a16353372707141743658726a307853365967693859476438dfc894d80640a0ff030a270a0374776f2a16335075746f51326742735849634a38426a6e7756594c38dfc894d8064082850412276bce61606060cc60ca05523cca9cff7e6afe2b7bc1c0506a98c194c894c7ca10bfa0f2095f1600"}},
	{"get bucket", "00000006130a03736962", []string{"00000095140a91010803100118002801380142220a0e7269616b5f636f72655f7574696c121063686173685f7374645f6b657966756e4a2b0a167269616b5f6b765f776d5f6c696e6b5f77616c6b657212116d61707265647563655f6c696e6b66756e5080a305581460326832700078fdffffff0f8001fdffffff0f8801009001fdffffff0f9801fdffffff0fa00100a80101c00103e00100"}},
	{"dt fetch not found", "0000000e500a016d12026e661a046d617073", []string{"00000003511003"}},
	{"dt update map", "00000077520a016d12037476311a046d6170732a641a62120d0a070a03636e7410011202080612100a070a037265671003220568656c6c6f120b0a070a03666c671004280112100a060a02737410021a060a01610a016212200a070a037375621005321512130a0d0a09696e6e65725f7265671003220269764801", []string{"0000007b53121c836c0000000168026d0000000c2309fef929fe78620000753161016a2a0b0a070a03636e74100110062a0b0a070a03666c67100428012a100a070a037265671003220568656c6c6f2a0e0a060a02737410021a01611a01622a1e0a070a03737562100532130a0d0a09696e6e65725f726567100322026976"}},
	{"dt fetch map", "0000000f500a016d12037476311a046d617073", []string{"0000007f510a1c836c0000000168026d0000000c2309fef929fe78620000753161016a10031a5c1a0b0a070a03636e74100110061a0b0a070a03666c67100428011a100a070a037265671003220568656c6c6f1a0e0a060a02737410021a01611a01621a1e0a070a03737562100532130a0d0a09696e6e65725f726567100322026976"}},
	{"dt update counter", "00000014520a01631a08636f756e746572732a040a02080a", []string{"0000001e530a1b4d39584b3837313445626d6a706d624a61576a3351576d4b676833"}},
	{"dt fetch hll", "0000000f500a016812037476311a04686c6c73", []string{"000000075110041a022002"}},
	{"dt set remove precondition", "00000018520a017312037476311a04736574732a07120512037a7a7a", []string{"0000002b000a267b707265636f6e646974696f6e2c7b6e6f745f70726573656e742c3c3c227a7a7a223e3e7d7d1000"}},
	{"dt fetch legacy counter", "00000012500a02747612026b311a0764656661756c74", []string{"000000075110011a020800"}},
}

// reply is what the fake server does with one request.
type reply struct {
	frames []byte // written back as is
	hang   bool   // answer nothing, until the server stops
	close  bool   // close the connection without answering
}

// replayVectors answers each captured request with the captured response,
// and anything else with an RpbErrorResp.
func replayVectors(req []byte) reply {
	key := hex.EncodeToString(req)
	for _, v := range vectors {
		if v.req == key {
			var b []byte
			for _, f := range v.resp {
				fb, err := hex.DecodeString(f)
				if err != nil {
					panic(err)
				}
				b = append(b, fb...)
			}
			return reply{frames: b}
		}
	}
	return reply{frames: AppendFrame(nil, CodeErrorResp, EncodeError("fake server: unexpected request "+key))}
}

// fakeServer is a Riak node for tests: it reads request frames and answers
// them by its handler. Its goroutines belong to the test, and end in
// t.Cleanup (or stop).
type fakeServer struct {
	ln     net.Listener
	addr   string
	handle func(req []byte) reply

	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	mu      sync.Mutex
	reqs    []string // hex of every request frame received
	accepts int
	conns   map[net.Conn]struct{}
}

// newFakeServer starts a fake server on addr ("127.0.0.1:0" for any port).
func newFakeServer(t testing.TB, addr string, handle func([]byte) reply) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{ln: ln, addr: ln.Addr().String(), handle: handle, done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.stop)
	return s
}

// deadAddr returns an address on which nothing listens.
func deadAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func (s *fakeServer) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		select {
		case <-s.done:
			s.mu.Unlock()
			nc.Close()
			return
		default:
		}
		s.accepts++
		s.conns[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(nc)
	}
}

func (s *fakeServer) serve(nc net.Conn) {
	defer s.wg.Done()
	defer nc.Close()
	for {
		code, body, err := ReadFrame(nc, 0, nil)
		if err != nil {
			return
		}
		req := AppendFrame(nil, code, body)
		s.mu.Lock()
		s.reqs = append(s.reqs, hex.EncodeToString(req))
		s.mu.Unlock()
		r := s.handle(req)
		switch {
		case r.close:
			return
		case r.hang:
			<-s.done
			return
		}
		if _, err := nc.Write(r.frames); err != nil {
			return
		}
	}
}

// stop closes the listener and every connection, and waits for the
// server's goroutines.
func (s *fakeServer) stop() {
	s.once.Do(func() {
		s.mu.Lock()
		close(s.done)
		s.ln.Close()
		for nc := range s.conns {
			nc.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
}

func (s *fakeServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

func (s *fakeServer) acceptCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepts
}
