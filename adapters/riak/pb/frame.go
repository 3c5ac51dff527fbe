package pb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A frame is one message on the wire: a 4-byte big-endian length (which
// counts the code byte but not itself), a 1-byte message code, and the
// protobuf encoding of the message (empty for a message with no fields).

// MaxFrame is the largest frame ReadFrame accepts by default: Riak's own
// limit on an object is far lower (50 MB warns, and objects over 1 MB hurt),
// so a larger length is a corrupt or hostile stream, refused before any
// allocation.
const MaxFrame = 64 << 20

// ErrFrameTooLarge is returned (wrapped) for a frame whose length exceeds
// the reader's limit.
var ErrFrameTooLarge = errors.New("riak: frame too large")

// ErrEmptyFrame is returned (wrapped) for a frame of length 0, which has no
// room for its code.
var ErrEmptyFrame = errors.New("riak: frame without a message code")

// AppendFrame appends a frame with code and body to b.
func AppendFrame(b []byte, code byte, body []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)+1))
	b = append(b, code)
	return append(b, body...)
}

// ReadFrame reads one frame from r, refusing one longer than max bytes
// (MaxFrame if max <= 0). buf, if large enough, is reused for the body.
// A stream that ends cleanly before a frame is io.EOF; one that ends
// inside a frame is io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, max int, buf []byte) (code byte, body []byte, err error) {
	if max <= 0 {
		max = MaxFrame
	}
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	switch {
	case n == 0:
		return 0, nil, ErrEmptyFrame
	case uint64(n) > uint64(max):
		return 0, nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrFrameTooLarge, n, max)
	}
	if _, err := io.ReadFull(r, hdr[4:5]); err != nil {
		return 0, nil, unexpected(err)
	}
	size := int(n) - 1
	if cap(buf) >= size {
		body = buf[:size]
	} else {
		body = make([]byte, size)
	}
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, unexpected(err)
	}
	return hdr[4], body, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
