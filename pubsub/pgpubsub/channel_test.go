package pgpubsub

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/strata-go/strata/pubsub"
)

func TestPayload(t *testing.T) {
	for _, msg := range [][]byte{nil, {}, {0}, []byte("hello"), bytes.Repeat([]byte{0xff, 0, '\''}, MaxMessage/3)} {
		p := encode(msg)
		if len(p) > maxPayload {
			t.Fatalf("payload of %d bytes for a message of %d", len(p), len(msg))
		}
		got, err := decode(p)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("decode(encode(%d bytes)) = %d bytes, %v", len(msg), len(got), err)
		}
	}
	if n := len(encode(make([]byte, MaxMessage))); n > maxPayload {
		t.Fatalf("MaxMessage encodes to %d bytes, more than %d", n, maxPayload)
	}
	if n := len(encode(make([]byte, MaxMessage+1))); n <= maxPayload {
		t.Fatalf("MaxMessage+1 encodes to %d bytes: MaxMessage could be larger", n)
	}
}

// TestDecodeGarbage: what is not a payload of the bus is an error, never a
// panic.
func TestDecodeGarbage(t *testing.T) {
	for _, p := range []string{
		"not base64!", "YQ", "YQ=", "Y===", "====", " YWJj", "YW Jj", "\u00e9\u00e9\u00e9\u00e9",
		"YWJjZA==YWJj", "YR==", // non-canonical padding bits
		strings.Repeat("A", maxPayload+1),
	} {
		if msg, err := decode(p); err == nil {
			t.Errorf("decode(%.20q) = %q, want an error", p, msg)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		decode(string(b)) // must not panic
	}
}

func TestChannelName(t *testing.T) {
	if got := channelName("strata:", "chat.1"); got != "strata:chat.1" {
		t.Fatalf("channelName = %q", got)
	}
	long := strings.Repeat("x", pubsub.MaxTopic)
	prefix := strings.Repeat("p", MaxPrefix)
	a := channelName(prefix, long)
	b := channelName(prefix, long[:62]+"y")
	if len(a) > maxChannel || len(b) > maxChannel || a == b {
		t.Fatalf("long names %q (%d bytes), %q (%d bytes): want distinct, of at most %d bytes", a, len(a), b, len(b), maxChannel)
	}
	if !strings.HasPrefix(a, prefix+"xxxxxxxxxxxxxx~") || a != channelName(prefix, long) {
		t.Fatalf("long name %q: want the prefix, the topic's beginning and a hash, the same each time", a)
	}
	// The longest that fits is not hashed.
	fit := strings.Repeat("z", maxChannel-len("strata:"))
	if got := channelName("strata:", fit); got != "strata:"+fit {
		t.Fatalf("channelName of a topic that fits = %q", got)
	}
	if got := channelName("strata:", fit+"z"); !strings.Contains(got, "~") || len(got) != maxChannel {
		t.Fatalf("channelName of a topic one byte too long = %q", got)
	}
}
