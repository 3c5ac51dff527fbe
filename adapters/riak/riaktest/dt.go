package riaktest

import (
	"bytes"
	"time"

	"github.com/basho/riak-go-client/rpb/riak_dt"
	"github.com/basho/riak-go-client/rpb/riak_kv"
	"github.com/golang/protobuf/proto"
	"github.com/strata-go/strata/adapters/riak/pb"
)

// Data types (DtFetchReq, DtUpdateReq). A data type lives in a bucket
// whose type has the datatype property (counter, set or map). Its object
// holds the CRDT as one sibling (see dt_codec.go); replicas merge such
// siblings into one (mergeDT), as riak_object does for CRDT values, so
// data types never have siblings. An update reads the reachable replicas,
// applies the operation to their merge in the name of the coordinating
// vnode, and stores the result on them. The context given to clients is
// the CRDT's version vector, encoded as vclocks are.

const dtDefaultType = "default"

// dtKind returns the data type of a bucket: counter, set or map, or an
// error as Riak's riak_kv_pb_crdt sends it.
func (s *session) dtKind(typ, bucket []byte, req string) (string, error) {
	c := s.node.c
	if typ == nil {
		return "", rpcError("Error no bucket type `undefined`")
	}
	b, err := c.checkBucket(typ, bucket, noTypeKV)
	if err != nil {
		return "", err
	}
	props := c.props(b)
	if !props.GetAllowMult() {
		return "", rpcError("Bucket must be allow_mult=true")
	}
	dt := string(props.Datatype)
	switch dt {
	case "counter", "set", "map":
		return dt, nil
	case "hll", "gset":
		return "", rpcErrorf("riaktest: %s on a bucket of datatype %s is not supported by the emulator", req, dt)
	case "":
		dt = "undefined"
	}
	if req == "DtUpdateReq" {
		return "", rpcErrorf("Bucket datatype `%s` is not a supported type", dt)
	}
	return "", rpcErrorf("`%s` is not a supported type", dt)
}

var dtFetchType = map[string]riak_dt.DtFetchResp_DataType{
	"counter": riak_dt.DtFetchResp_COUNTER,
	"set":     riak_dt.DtFetchResp_SET,
	"map":     riak_dt.DtFetchResp_MAP,
}

var dtKindModule = map[string]string{
	"counter": "riak_dt_pncounter",
	"set":     "riak_dt_orswot",
	"map":     "riak_dt_map",
}

func newDT(kind string) any {
	switch kind {
	case "counter":
		return newPNCounter()
	case "set":
		return newORSWOT()
	}
	return newDTMap()
}

// dtState returns the CRDT of kind that contents hold (merged), or nil.
func dtState(contents []*riak_kv.RpbContent, kind string) any {
	var st any
	for _, ct := range contents {
		if ct.GetDeleted() || dtModuleOf(ct.Value) != dtKindModule[kind] {
			continue
		}
		v, ok := decodeDT(ct.Value)
		if !ok {
			continue
		}
		if st == nil {
			st = v
		} else {
			st = mergeTop(st, v)
		}
	}
	return st
}

func mergeTop(a, b any) any {
	if c, ok := a.(*pnCounter); ok {
		return mergePNCounters(c, b.(*pnCounter))
	}
	return mergeEmbedded(a, b)
}

// dtContext returns the context of a state: its version vector (none for
// counters).
func dtContext(st any) []byte {
	switch st := st.(type) {
	case *orswot:
		return st.clock.encode()
	case *dtMap:
		return st.clock.encode()
	}
	return nil
}

// mapEntries returns the value of a map as MapEntry messages.
func mapEntries(m *dtMap) []*riak_dt.MapEntry {
	out := []*riak_dt.MapEntry{}
	for _, k := range m.sortedFields() {
		e := &riak_dt.MapEntry{Field: &riak_dt.MapField{
			Name: []byte(k.name),
			Type: riak_dt.MapField_MapFieldType(k.kind).Enum(),
		}}
		switch v := m.fields[k].value(k.kind).(type) {
		case *emCounter:
			e.CounterValue = proto.Int64(v.value())
		case *orswot:
			e.SetValue = v.elements()
		case *lwwReg:
			e.RegisterValue = nonNil(v.value)
		case *odFlag:
			e.FlagValue = proto.Bool(len(v.dots) > 0)
		case *dtMap:
			e.MapValue = mapEntries(v)
		}
		out = append(out, e)
	}
	return out
}

// dtValue returns the value of a state as a DtValue.
func dtValue(st any) *riak_dt.DtValue {
	switch st := st.(type) {
	case *pnCounter:
		return &riak_dt.DtValue{CounterValue: proto.Int64(st.value())}
	case *orswot:
		return &riak_dt.DtValue{SetValue: st.elements()}
	case *dtMap:
		return &riak_dt.DtValue{MapValue: mapEntries(st)}
	}
	return &riak_dt.DtValue{}
}

// getObject runs a KV get and returns its reply.
func (s *session) getObject(m *riak_kv.RpbGetReq) (*riak_kv.RpbGetResp, error) {
	body, err := proto.Marshal(m)
	if err != nil {
		return nil, rpcErrorf("riaktest: %v", err)
	}
	frames, err := s.get(body)
	if err != nil {
		return nil, err
	}
	var resp riak_kv.RpbGetResp
	if err := proto.Unmarshal(frames[0].body, &resp); err != nil {
		return nil, rpcErrorf("riaktest: %v", err)
	}
	return &resp, nil
}

func (s *session) dtFetch(body []byte) ([]frame, error) {
	var m riak_dt.DtFetchReq
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	get := &riak_kv.RpbGetReq{Bucket: nonNil(m.Bucket), Key: nonNil(m.Key), R: m.R, Pr: m.Pr,
		BasicQuorum: m.BasicQuorum, NotfoundOk: m.NotfoundOk}
	if string(m.Type) == dtDefaultType {
		// Riak's 1.4 counter path: the emulator has no legacy counters,
		// so an object there counts 0.
		resp, err := s.getObject(get)
		if err != nil {
			return nil, err
		}
		out := &riak_dt.DtFetchResp{Type: riak_dt.DtFetchResp_COUNTER.Enum()}
		if len(resp.Content) > 0 {
			out.Value = &riak_dt.DtValue{CounterValue: proto.Int64(0)}
		}
		return []frame{reply(pb.CodeDtFetchResp, out)}, nil
	}
	kind, err := s.dtKind(m.Type, m.Bucket, "DtFetchReq")
	if err != nil {
		return nil, err
	}
	get.Type, get.SloppyQuorum, get.NVal = m.Type, m.SloppyQuorum, m.NVal
	resp, err := s.getObject(get)
	if err != nil {
		return nil, err
	}
	out := &riak_dt.DtFetchResp{Type: dtFetchType[kind].Enum()}
	if len(resp.Content) == 0 {
		return []frame{reply(pb.CodeDtFetchResp, out)}, nil
	}
	st := dtState(resp.Content, kind)
	if st == nil {
		out.Value = dtValue(newDT(kind)) // an object that holds no such type
	} else {
		out.Value = dtValue(st)
		if m.GetIncludeContext() {
			out.Context = dtContext(st)
		}
	}
	return []frame{reply(pb.CodeDtFetchResp, out)}, nil
}

// opKind returns the kind of a DtOp, as riak_pb_dt_codec:operation_type.
func opKind(op *riak_dt.DtOp) string {
	switch {
	case op == nil:
		return ""
	case op.CounterOp != nil:
		return "counter"
	case op.SetOp != nil:
		return "set"
	case op.MapOp != nil:
		return "map"
	}
	return ""
}

func (s *session) dtUpdate(body []byte) ([]frame, error) {
	var m riak_dt.DtUpdateReq
	if err := decode(body, &m); err != nil {
		return nil, err
	}
	if string(m.Type) == dtDefaultType {
		return nil, rpcError("riaktest: DtUpdateReq on the default bucket type (legacy counters) is not supported by the emulator")
	}
	kind, err := s.dtKind(m.Type, m.Bucket, "DtUpdateReq")
	if err != nil {
		return nil, err
	}
	opk := opKind(m.Op)
	if opk == "" {
		return nil, rpcError("riaktest: DtUpdateReq without a counter, set or map operation")
	}
	if opk != kind {
		return nil, rpcErrorf("Operation type is `%s` but  bucket type is `%s`.", opk, kind)
	}
	var ctx vclock
	if len(m.Context) > 0 {
		v, ok := decodeVClock(m.Context)
		if !ok {
			return nil, rpcError("Error processing incoming message: bad context")
		}
		ctx = v
	}
	var genKey []byte
	if m.Key == nil {
		genKey = []byte(randomBase62(27))
		m.Key = genKey
	}
	req, err := s.kvRequest(m.Type, m.Bucket, m.Key, m.NVal)
	if err != nil {
		return nil, err
	}
	ts, err := s.writeRequest(req, m.W, m.Dw, m.Pw, m.SloppyQuorum)
	if err != nil {
		return nil, err
	}
	c := s.node.c
	now := time.Now()
	coord := ts[0]
	for _, t := range ts {
		if t.node == s.node.index {
			coord = t
			break
		}
	}
	actor := actorOf(coord.vnodeID)

	cur, _, _ := c.gather(ts, req.k, req.multi, now)
	clock := vclock{}
	var rest []sibling // other values, kept as Riak keeps them
	var st any
	if cur != nil {
		clock = cloneClock(cur.clock)
		var contents []*riak_kv.RpbContent
		for _, sib := range cur.siblings {
			switch {
			case dtModuleOf(sib.content.Value) != "":
				contents = append(contents, sib.content)
			case !sib.deleted():
				rest = append(rest, sib)
			}
		}
		st = dtState(contents, kind)
	}
	if st == nil {
		st = newDT(kind)
	}
	if err := applyDTOp(st, m.Op, actor, ctx, now); err != nil {
		return nil, err
	}

	vn := c.vnode(coord.vnodeID)
	vn.seq = max(vn.seq, clock[actor]) + 1
	clock[actor] = vn.seq
	content := &riak_kv.RpbContent{
		Value:        encodeDT(st),
		ContentType:  []byte(dtModules[dtKindModule[kind]]),
		Vtag:         []byte(randomBase62(22)),
		LastMod:      proto.Uint32(uint32(now.Unix())),
		LastModUsecs: proto.Uint32(uint32(now.Nanosecond() / 1000)),
	}
	sibs := append([]sibling{{dot: dot{actor, vn.seq}, modified: now, content: content}}, rest...)
	obj := newObject(clock, sibs, req.multi)
	for _, t := range ts {
		c.store(t, req.k, obj, false, now)
	}

	resp := &riak_dt.DtUpdateResp{Key: genKey}
	if m.GetReturnBody() {
		v := dtValue(st)
		resp.CounterValue, resp.SetValue, resp.MapValue = v.CounterValue, v.SetValue, v.MapValue
		if m.GetIncludeContext() {
			resp.Context = dtContext(st)
		}
	}
	return []frame{reply(pb.CodeDtUpdateResp, resp)}, nil
}

// applyDTOp applies a client's operation to a top level state in the name
// of actor. It fails, leaving st in an unspecified state, as Riak does.
func applyDTOp(st any, op *riak_dt.DtOp, actor string, ctx vclock, now time.Time) error {
	switch st := st.(type) {
	case *pnCounter:
		st.increment(actor, increment(op.CounterOp))
		return nil
	case *orswot:
		return applySetOp(st, op.SetOp, actor, nil, ctx)
	case *dtMap:
		ops, err := mapOps(op.MapOp, now)
		if err != nil {
			return err
		}
		return st.update(ops, actor, nil, ctx)
	}
	return nil
}

func increment(op *riak_dt.CounterOp) int64 {
	if op == nil || op.Increment == nil {
		return 1
	}
	return *op.Increment
}

func applySetOp(s *orswot, op *riak_dt.SetOp, actor string, d *dot, ctx vclock) error {
	for _, e := range op.GetAdds() {
		s.add(string(e), actor, d)
	}
	for _, e := range op.GetRemoves() {
		if err := s.remove(string(e), ctx); err != nil {
			return err
		}
	}
	return nil
}

// mapOps decodes a MapOp: its field removals, then its updates.
func mapOps(op *riak_dt.MapOp, now time.Time) ([]mapOp, error) {
	var out []mapOp
	for _, f := range op.GetRemoves() {
		k, err := fieldKeyOf(f)
		if err != nil {
			return nil, err
		}
		out = append(out, mapOp{field: k})
	}
	for _, u := range op.GetUpdates() {
		k, err := fieldKeyOf(u.Field)
		if err != nil {
			return nil, err
		}
		e, err := embeddedOpOf(k, u, now)
		if err != nil {
			return nil, err
		}
		out = append(out, mapOp{field: k, op: e})
	}
	return out, nil
}

func fieldKeyOf(f *riak_dt.MapField) (fieldKey, error) {
	if f == nil || f.Type == nil || *f.Type < kindCounter || *f.Type > kindMap {
		return fieldKey{}, rpcError("Error processing incoming message: bad map field")
	}
	return fieldKey{name: string(f.Name), kind: byte(*f.Type)}, nil
}

func embeddedOpOf(k fieldKey, u *riak_dt.MapUpdate, now time.Time) (embeddedOp, error) {
	missing := func() (embeddedOp, error) {
		return nil, rpcErrorf("Error processing incoming message: no operation for map field %s", k.erl())
	}
	switch k.kind {
	case kindCounter:
		if u.CounterOp == nil {
			return missing()
		}
		by := increment(u.CounterOp)
		return func(v any, d dot, _ vclock) (any, error) {
			v.(*emCounter).increment(d, by)
			return v, nil
		}, nil
	case kindSet:
		if u.SetOp == nil {
			return missing()
		}
		return func(v any, d dot, ctx vclock) (any, error) {
			return v, applySetOp(v.(*orswot), u.SetOp, "", &d, ctx)
		}, nil
	case kindRegister:
		if u.RegisterOp == nil {
			return missing()
		}
		return func(v any, _ dot, _ vclock) (any, error) {
			r := v.(*lwwReg)
			nr := &lwwReg{value: r.value, ts: r.ts}
			nr.assign(bytes.Clone(u.RegisterOp), now)
			return nr, nil
		}, nil
	case kindFlag:
		if u.FlagOp == nil {
			return missing()
		}
		enable := *u.FlagOp == riak_dt.MapUpdate_ENABLE
		return func(v any, d dot, ctx vclock) (any, error) {
			f := v.(*odFlag)
			if enable {
				f.enable(d)
			} else {
				f.disable(ctx)
			}
			return f, nil
		}, nil
	}
	if u.MapOp == nil {
		return missing()
	}
	ops, err := mapOps(u.MapOp, now)
	if err != nil {
		return nil, err
	}
	return func(v any, d dot, ctx vclock) (any, error) {
		nm := v.(*dtMap)
		return nm, nm.update(ops, "", &d, ctx)
	}, nil
}

// mergeDT merges two replicas of an object either of which holds a data
// type value, as riak_object merges CRDT values (which carry no dot): the
// CRDTs of a side whose vclock the other descends are already in the
// other's; otherwise those of both sides are merged into one sibling per
// type. Other siblings merge as usual. It reports false when neither
// object holds a data type value.
func mergeDT(a, b *object, allowMult bool) (*object, bool) {
	da, ra := splitDT(a)
	db, rb := splitDT(b)
	if len(da)+len(db) == 0 {
		return nil, false
	}
	switch {
	case a.clock.descends(b.clock):
		db = nil
	case b.clock.descends(a.clock):
		da = nil
	}
	rest := mergeObjects(&object{clock: a.clock, siblings: ra}, &object{clock: b.clock, siblings: rb}, allowMult)
	byMod := map[string]sibling{}
	var mods []string
	for _, s := range append(da, db...) {
		mod := dtModuleOf(s.content.Value)
		prev, ok := byMod[mod]
		if !ok {
			byMod[mod] = s
			mods = append(mods, mod)
			continue
		}
		byMod[mod] = mergeDTSiblings(prev, s)
	}
	sibs := rest.siblings
	for _, mod := range mods {
		sibs = append(sibs, byMod[mod])
	}
	return newObject(mergeClocks(a.clock, b.clock), sibs, allowMult), true
}

// splitDT splits the siblings of o into data type values and others.
func splitDT(o *object) (dts, others []sibling) {
	for _, s := range o.siblings {
		if !s.deleted() && dtModuleOf(s.content.Value) != "" {
			if _, ok := decodeDT(s.content.Value); ok {
				dts = append(dts, s)
				continue
			}
		}
		others = append(others, s)
	}
	return dts, others
}

// mergeDTSiblings merges two siblings holding the same data type: the
// newer one's metadata and dot, the merged value.
func mergeDTSiblings(x, y sibling) sibling {
	if bytes.Equal(x.content.Value, y.content.Value) {
		if y.modified.After(x.modified) {
			return y
		}
		return x
	}
	vx, _ := decodeDT(x.content.Value)
	vy, _ := decodeDT(y.content.Value)
	newer := x
	if y.modified.After(x.modified) {
		newer = y
	}
	content := *newer.content
	content.Value = encodeDT(mergeTop(vx, vy))
	newer.content = &content
	return newer
}
