package pb

import (
	"fmt"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/golang/protobuf/proto"
)

// Error is Riak's answer that a request failed (RpbErrorResp). Riak sends
// errcode 0 for every error; Message is its text ("notfound", "modified",
// "{n_val_violation,3}", ...).
type Error struct {
	Code    uint32
	Message string
}

func (e *Error) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("riak: %s (code %d)", e.Message, e.Code)
	}
	return "riak: " + e.Message
}

// DecodeError decodes the body of an RpbErrorResp frame.
func DecodeError(body []byte) (*Error, error) {
	var m riak.RpbErrorResp
	if err := proto.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("riak: bad RpbErrorResp: %w", err)
	}
	return &Error{Code: m.GetErrcode(), Message: string(m.GetErrmsg())}, nil
}

// EncodeError returns the body of an RpbErrorResp frame (for servers).
func EncodeError(msg string) []byte {
	b, _ := proto.Marshal(&riak.RpbErrorResp{Errmsg: []byte(msg), Errcode: proto.Uint32(0)})
	return b
}
