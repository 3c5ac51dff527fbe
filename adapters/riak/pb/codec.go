package pb

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/basho/riak-go-client/rpb/riak"
	"github.com/golang/protobuf/proto"
)

// encode returns the body of a request frame for m: empty for a nil
// message or one with no fields set. A required field left unset is an
// error, caught here rather than by the server, which would drop the
// connection.
func encode(m proto.Message) ([]byte, error) {
	if m == nil || reflect.ValueOf(m).IsNil() {
		return nil, nil
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("riak: encode %T: %w", m, err)
	}
	return b, nil
}

// decode decodes a response body into m. Riak sends a message with every
// field unset as an empty body, even for messages with required fields
// (RpbGetBucketResp, DtFetchResp, ...), so a required field missing from a
// response is not an error: the getters return the zero value.
func decode(body []byte, m proto.Message) error {
	err := proto.Unmarshal(body, m)
	var missing *proto.RequiredNotSetError
	if err != nil && !errors.As(err, &missing) {
		return fmt.Errorf("riak: decode %T: %w", m, err)
	}
	return nil
}

// decodeError decodes the body of an RpbErrorResp, tolerating missing
// fields like decode.
func decodeError(body []byte) (*Error, error) {
	var m riak.RpbErrorResp
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	return &Error{Code: m.GetErrcode(), Message: string(m.GetErrmsg())}, nil
}
