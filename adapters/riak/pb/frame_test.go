package pb

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func unhex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// Frames captured from Riak 3.2.1 (../shared/reference/riak_wire_vectors.txt).
func TestFrameVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		wire string
		code byte
		body string
	}{
		{"ping", "0000000101", CodePingReq, ""},
		{"pong", "0000000102", CodePingResp, ""},
		{"get not found reply", "000000010a", CodeGetResp, ""},
		{"get request", "0000000e090a02747612076d697373696e67", CodeGetReq, "0a02747612076d697373696e67"},
		{"unknown code error", "0000001d000a18556e6b6e6f776e206d65737361676520636f64653a2039391000", CodeErrorResp,
			"0a18556e6b6e6f776e206d65737361676520636f64653a2039391000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire := unhex(t, tc.wire)
			code, body, err := ReadFrame(bytes.NewReader(wire), 0, nil)
			require.NoError(t, err)
			require.Equal(t, tc.code, code)
			require.Equal(t, unhex(t, tc.body), append([]byte{}, body...))
			require.Equal(t, wire, AppendFrame(nil, code, body), "encoding gives the same bytes")
		})
	}
	_, body, err := ReadFrame(bytes.NewReader(unhex(t, "0000001d000a18556e6b6e6f776e206d65737361676520636f64653a2039391000")), 0, nil)
	require.NoError(t, err)
	e, err := DecodeError(body)
	require.NoError(t, err)
	require.Equal(t, "Unknown message code: 99", e.Message)
	require.Equal(t, uint32(0), e.Code)
	require.Equal(t, EncodeError("Unknown message code: 99"), body, "an error encodes as Riak's")
}

func TestReadFrameErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		wire string
		want error
	}{
		{"nothing", "", io.EOF},
		{"short length", "0000", io.ErrUnexpectedEOF},
		{"no code", "00000001", io.ErrUnexpectedEOF},
		{"short body", "000000050a0102", io.ErrUnexpectedEOF},
		{"zero length", "00000000", ErrEmptyFrame},
		{"too large", "7fffffff0a", ErrFrameTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadFrame(bytes.NewReader(unhex(t, tc.wire)), 0, nil)
			require.True(t, errors.Is(err, tc.want), "got %v, want %v", err, tc.want)
		})
	}
	_, _, err := ReadFrame(bytes.NewReader(unhex(t, "000000110a0102")), 8, nil)
	require.ErrorIs(t, err, ErrFrameTooLarge, "a caller's lower limit")
}

// FuzzReadFrame: arbitrary bytes never panic, and a frame read re-encodes
// to the bytes it was read from.
func FuzzReadFrame(f *testing.F) {
	f.Add(unhex(f, "0000000101"))
	f.Add(unhex(f, "0000000e090a02747612076d697373696e67"))
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		code, body, err := ReadFrame(bytes.NewReader(b), 1<<16, nil)
		if err != nil {
			return
		}
		got := AppendFrame(nil, code, body)
		if !bytes.Equal(got, b[:len(got)]) {
			t.Fatalf("re-encoded %x, read from %x", got, b)
		}
		if code == CodeErrorResp {
			DecodeError(body)
		}
	})
}
