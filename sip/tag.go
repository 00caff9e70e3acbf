package sip

import "encoding/hex"

// newTag is a From or To tag of ours: 128 random bits as 32 lowercase hex
// digits. The alphabet has no capital letters on purpose: sipgo's
// GenerateTagN draws 16 characters from 62 (digits, both cases), so about
// one tag in a million spelled "CSeq", and SIPp 3.6 finds a response's
// CSeq method with strstr(msg, "CSeq"): it took our To tag for the CSeq
// header and failed the call as an unexpected message (1 call in
// 180,000-360,000 at 3,000-6,000 calls/s). No header name is lowercase
// hex, so no tag of ours spells one for a peer that scans a message so.
func newTag() string {
	return hex.EncodeToString(randomBytes(16))
}
