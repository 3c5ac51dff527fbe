package pb

// The message codes of Riak's PB API (riak_pb_messages.csv) that Strata
// uses, on both sides of the wire.
const (
	CodeErrorResp         byte = 0
	CodePingReq           byte = 1
	CodePingResp          byte = 2
	CodeGetServerInfoReq  byte = 7
	CodeGetServerInfoResp byte = 8
	CodeGetReq            byte = 9
	CodeGetResp           byte = 10
	CodePutReq            byte = 11
	CodePutResp           byte = 12
	CodeDelReq            byte = 13
	CodeDelResp           byte = 14
	CodeListBucketsReq    byte = 15
	CodeListBucketsResp   byte = 16
	CodeListKeysReq       byte = 17
	CodeListKeysResp      byte = 18
	CodeGetBucketReq      byte = 19
	CodeGetBucketResp     byte = 20
	CodeSetBucketReq      byte = 21
	CodeSetBucketResp     byte = 22
	CodeMapRedReq         byte = 23
	CodeMapRedResp        byte = 24
	CodeIndexReq          byte = 25
	CodeIndexResp         byte = 26
	CodeResetBucketReq    byte = 29
	CodeResetBucketResp   byte = 30
	CodeGetBucketTypeReq  byte = 31
	CodeSetBucketTypeReq  byte = 32
	CodeCounterUpdateReq  byte = 50
	CodeCounterUpdateResp byte = 51
	CodeCounterGetReq     byte = 52
	CodeCounterGetResp    byte = 53
	CodeDtFetchReq        byte = 80
	CodeDtFetchResp       byte = 81
	CodeDtUpdateReq       byte = 82
	CodeDtUpdateResp      byte = 83
)

// Quorum values with a meaning other than a count (all other values of r,
// w, pr, pw, dw and rw are counts).
const (
	QuorumOne     uint32 = 0xFFFFFFFE
	QuorumQuorum  uint32 = 0xFFFFFFFD
	QuorumAll     uint32 = 0xFFFFFFFC
	QuorumDefault uint32 = 0xFFFFFFFB
)
