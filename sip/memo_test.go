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
		if _, ok := a.accepted.set.get(key, time.Now()); !ok {
			b.Fatal("not remembered")
		}
	}
}

// TestMemosHoldNoPointers: the per-call memos hold their calls in tables
// without pointers, so the garbage collector does not scan them, and their
// 2xx are gone once ACKed; the memo of shed INVITEs is empty when none
// was shed.
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
	for name, n := range map[string]int{"inviteMemo": a.invites.len(), "accepted": a.accepted.set.len(), "ended": a.dialogs.ended.len()} {
		if n != len(reqs) {
			t.Errorf("%s holds %d calls, want %d", name, n, len(reqs))
		}
	}
	if n := len(a.invites.shed.cur) + len(a.invites.shed.prev); n != 0 {
		t.Errorf("%d shed INVITEs held, none shed", n)
	}
	for name, v := range map[string]any{"inviteMemo": a.invites.passed.gens, "accepted": a.accepted.set.gens,
		"ended": a.dialogs.ended.gens, "inviteMemo shed": a.invites.shed.cur} {
		typ := reflect.TypeOf(v)
		if typ.Kind() == reflect.Map && hasPointers(typ.Key()) || typ.Kind() != reflect.Array && hasPointers(typ.Elem()) ||
			typ.Kind() == reflect.Array && hasSlicePointers(typ.Elem()) {
			t.Errorf("%s is a %v: the garbage collector scans it", name, typ)
		}
	}
}

// TestGenSet: a key is found with its flag for one span at least and
// 1+1/genParts spans at most, a generation grows as it fills and is
// bounded, and a new generation is sized from the one before.
func TestGenSet(t *testing.T) {
	s := genSet{span: 10 * time.Second, max: 5000}
	lim := s.max / genParts // keys a generation takes
	t0 := time.Unix(1000, 0)
	key := func(i int) uint64 { return memoHash(strconv.Itoa(i)) }
	s.put(key(0), false, t0)
	for _, c := range []struct {
		at   time.Duration
		want bool
	}{{0, true}, {9 * time.Second, true}, {12 * time.Second, true}, {13 * time.Second, false}, {20 * time.Second, false}} {
		if _, ok := s.get(key(0), t0.Add(c.at)); ok != c.want {
			t.Errorf("get at +%v: found %v, want %v", c.at, ok, c.want)
		}
	}
	s.update(key(0), true)
	if flag, ok := s.get(key(0), t0); !flag || !ok {
		t.Errorf("after update: flag %v, found %v", flag, ok)
	}
	s.update(key(1), true) // not held: stays unknown
	if _, ok := s.get(key(1), t0); ok {
		t.Error("update added a key")
	}
	for i := 1; i < 6000; i++ { // grows past hashGenMin, up to max
		s.put(key(i), i%2 == 1, t0)
	}
	if s.cur().n != lim || s.cur().n*4 > len(s.cur().slots)*3 {
		t.Fatalf("%d keys in %d slots, want %d in at least %d", s.cur().n, len(s.cur().slots), lim, lim*4/3)
	}
	for i := range 6000 {
		flag, ok := s.get(key(i), t0)
		if want := i < lim; ok != want || ok && i > 0 && flag != (i%2 == 1) {
			t.Fatalf("key %d: found %v flag %v, want found %v flag %v", i, ok, flag, want, i%2 == 1)
		}
	}
	s.put(key(-1), false, t0.Add(12*time.Second)) // a new generation; the others are in the old one
	if _, ok := s.get(key(7), t0.Add(13*time.Second)); !ok {
		t.Error("a key lost at the turn")
	}
	if len(s.cur().slots) < lim*4/3 {
		t.Errorf("new generation of %d slots after one of %d keys", len(s.cur().slots), lim)
	}
	if _, ok := s.get(key(7), t0.Add(22*time.Second)); ok {
		t.Error("a key found two spans after its generation started")
	}
	// Puts at a steady rate: every key is found for a span and gone a
	// generation after, and the set holds at most 1+1/genParts spans of them.
	var r genSet
	r.span, r.max = 10*time.Second, 1<<20
	step := 10 * time.Millisecond
	for i := range 5000 { // 50 s
		now := t0.Add(time.Duration(i) * step)
		r.put(key(i), false, now)
		if i%97 != 0 {
			continue
		}
		for j := i; j >= 0 && j > i-1500; j -= 13 { // the last 15 s
			age := time.Duration(i-j) * step
			_, ok := r.get(key(j), now)
			switch {
			case age < r.span && !ok:
				t.Fatalf("key put %v ago lost (span %v)", age, r.span)
			case age > r.span+2*r.slice() && ok:
				t.Fatalf("key put %v ago still held (span %v, generation %v)", age, r.span, r.slice())
			}
		}
	}
	if n, most := r.len(), int((r.span+r.slice()+step)/step)+1; n > most {
		t.Errorf("steady puts: %d keys held, at most %d (1+1/%d spans)", n, most, genParts)
	}
	var g hashGen // a zero generation takes keys too
	g.put(key(1), true)
	if flag, ok := g.get(key(1)); !ok || !flag {
		t.Errorf("zero generation: found %v flag %v", ok, flag)
	}
	// A key whose upper 63 bits are 0 is a key like any other.
	s.put(0, true, t0.Add(13*time.Second))
	s.put(1, false, t0.Add(13*time.Second))
	if flag, ok := s.get(0, t0.Add(13*time.Second)); !ok || flag {
		t.Errorf("key 0: found %v flag %v, want found, flag false (1 and 0 are one key)", ok, flag)
	}
}

// hasSlicePointers reports whether t, a struct of slices (a hashGen),
// holds slices of pointers.
func hasSlicePointers(t reflect.Type) bool {
	for i := range t.NumField() {
		if f := t.Field(i).Type; f.Kind() == reflect.Slice && hasPointers(f.Elem()) || f.Kind() != reflect.Slice && hasPointers(f) {
			return true
		}
	}
	return false
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

// BenchmarkMemoGC: one full garbage collection with the per-call memos
// holding 64 s of calls at 2,000/s and nothing else (the mark work they
// add to every cycle).
func BenchmarkMemoGC(b *testing.B) {
	reqs := make([]*sip.Request, memoCalls)
	for i := range reqs {
		reqs[i] = memoInvite(b, i)
	}
	a := memoAdapter()
	fillMemos(b, a, reqs, time.Now())
	reqs = nil
	runtime.GC()
	b.ResetTimer()
	for range b.N {
		runtime.GC()
	}
	b.StopTimer()
	runtime.KeepAlive(a)
}
