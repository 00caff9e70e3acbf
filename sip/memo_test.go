package sip

import (
	"reflect"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// memoCalls is how many calls the per-call memos hold after 64 s at
// 2,000 calls/s, the s2b load step of docs/PERFORMANCE.md.
const memoCalls = 2000 * 64

// memoInvite is an initial INVITE as SIPp sends them (Call-ID, From tag).
func memoInvite(tb testing.TB, i int) *sip.Request {
	msg, err := sip.ParseMessage([]byte("INVITE sip:callee-1@127.0.0.1:5060 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-4242-" + strconv.Itoa(i) + "-0\r\n" +
		"From: sipp <sip:sipp-1@127.0.0.1:5070>;tag=4242SIPpTag00" + strconv.Itoa(i) + "\r\n" +
		"To: <sip:callee-1@127.0.0.1:5060>\r\nCall-ID: " + strconv.Itoa(i) + "-4242@127.0.0.1\r\n" +
		"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"))
	if err != nil {
		tb.Fatal(err)
	}
	return msg.(*sip.Request)
}

// fillMemos puts n SIP → browser calls into the memos of a, at 2,000
// calls/s from t0, as the adapter does for each: the UDP reader's
// inviteMemo, the accepted INVITE (answered and ACKed) and the dialog the
// caller's BYE ended.
func fillMemos(tb testing.TB, a *Adapter, reqs []*sip.Request, t0 time.Time) {
	var tags atomic.Uint64
	for i, req := range reqs {
		now := t0.Add(time.Duration(i) * time.Second / 2000)
		a.invites.decide([]byte(req.CallID().Value()), req.CSeq().SeqNo, false, now, &tags)
		acc := a.rememberInvite(req)
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		acc.sending(res)
		acc.acked(res)
		from, _ := req.From().Params.Get("tag")
		key := dialogKey(req.CallID().Value(), sip.GenerateTagN(16), from)
		a.dialogs.add(key, nil)
		a.dialogs.remove(key, true)
	}
}

func memoAdapter() *Adapter { return &Adapter{accepted: newAcceptedMemo(), dialogs: newDialogTable()} }

// BenchmarkMemoLiveHeap reports the live heap the per-call memos hold
// after 64 s of SIP → browser calls at 2,000/s (heap-B/call), and the
// memos' own allocation per call (B/op, allocs/op: the requests and
// responses made for the benchmark excluded).
func BenchmarkMemoLiveHeap(b *testing.B) {
	reqs := make([]*sip.Request, memoCalls)
	for i := range reqs {
		reqs[i] = memoInvite(b, i)
	}
	t0 := time.Now()
	var live float64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		a := memoAdapter()
		fillMemos(b, a, reqs, t0)
		runtime.GC()
		runtime.ReadMemStats(&after)
		live = float64(after.HeapAlloc-before.HeapAlloc) / memoCalls
		runtime.KeepAlive(a)
	}
	b.ReportMetric(live, "heap-B/call")
}

// BenchmarkInviteMemoDecide: the UDP reader's step for every initial
// INVITE.
func BenchmarkInviteMemoDecide(b *testing.B) {
	ids := make([][]byte, memoCalls)
	for i := range ids {
		ids[i] = []byte(strconv.Itoa(i) + "-4242@127.0.0.1")
	}
	var m inviteMemo
	var tags atomic.Uint64
	t0 := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m.decide(ids[i%len(ids)], 1, false, t0.Add(time.Duration(i)*time.Second/2000), &tags)
	}
}

// BenchmarkAcceptedInvite: an inbound leg's INVITE remembered, and the
// lookup of every initial INVITE (inviteAgain's, for a new one).
func BenchmarkAcceptedInvite(b *testing.B) {
	reqs := make([]*sip.Request, 1024)
	for i := range reqs {
		reqs[i] = memoInvite(b, i)
	}
	a := memoAdapter()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		req := reqs[i%len(reqs)]
		a.rememberInvite(req)
		key, _ := inviteHash(req)
		if _, ok := a.accepted.memo.get(key, time.Now()); !ok {
			b.Fatal("not remembered")
		}
	}
}

// TestMemosHoldNoPointers: the per-call memos' maps hold neither keys nor
// values with pointers, so the garbage collector does not scan them, and
// their 2xx are gone once ACKed.
func TestMemosHoldNoPointers(t *testing.T) {
	a := memoAdapter()
	reqs := make([]*sip.Request, 100)
	for i := range reqs {
		reqs[i] = memoInvite(t, i)
	}
	fillMemos(t, a, reqs, time.Now())
	if n := a.accepted.waiting(); n != 0 {
		t.Errorf("%d 2xx held after their ACK", n)
	}
	for name, n := range map[string]int{"inviteMemo": a.invites.len(), "accepted": a.accepted.memo.len(), "ended": a.dialogs.ended.len()} {
		if n != len(reqs) {
			t.Errorf("%s holds %d calls, want %d", name, n, len(reqs))
		}
	}
	for name, v := range map[string]any{"inviteMemo": a.invites.cur, "accepted": a.accepted.memo.cur, "ended": a.dialogs.ended.cur} {
		m := reflect.TypeOf(v)
		if hasPointers(m.Key()) || hasPointers(m.Elem()) {
			t.Errorf("%s is a %v: the garbage collector scans it", name, m)
		}
	}
}

// hasPointers reports whether values of t hold pointers.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	}
	return true
}
