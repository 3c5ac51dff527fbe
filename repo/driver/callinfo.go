package driver

import "context"

// CallInfo is what an adapter tells the portable layer about one call
// beyond its result. The portable layer puts one in the context of every
// call it observes (see ContextWithCallInfo); adapters with something to
// say fill it through CallInfoFrom. It is written by one goroutine: the
// adapter, during the call.
type CallInfo struct {
	// Source is where a read was served from, for stores with tiers: a
	// cache sets "l1", "l2" or "store". "" when the adapter does not say.
	Source string
}

type callInfoKey struct{}

// ContextWithCallInfo returns ctx carrying ci.
func ContextWithCallInfo(ctx context.Context, ci *CallInfo) context.Context {
	return context.WithValue(ctx, callInfoKey{}, ci)
}

// CallInfoFrom returns the CallInfo of ctx, or nil when nobody observes
// the call.
func CallInfoFrom(ctx context.Context) *CallInfo {
	ci, _ := ctx.Value(callInfoKey{}).(*CallInfo)
	return ci
}
