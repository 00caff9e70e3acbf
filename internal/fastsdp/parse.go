package fastsdp

import (
	"strings"

	"github.com/pion/sdp/v3"
)

// state is where the parser is in pion's state table (pion/sdp
// unmarshal.go, s1 to s16), for the transitions this parser knows.
type state int

const (
	wantV       state = iota // s1
	wantO                    // s2
	wantS                    // s3
	afterS                   // s4: i c b t
	afterI                   // s7: c b t
	afterCB                  // s5: b t (pion takes no c after a b)
	afterT                   // s9: t a m
	sessionAttr              // s11: a m
	inMedia                  // s12, s14, s15, s16: each takes a b c m
)

// result holds the parts of a result there is one of, or at most one, or
// a few of in the SDPs browsers and SIP gear send, in one allocation: the
// description, its first t= line's timing (pion's slice of one; later t=
// lines make a new array when appended), its i= line, the pointers to up
// to four media sections, and up to three c= lines (a browser's audio,
// video and data channel sections, a SIP SDP's session and media lines).
// More media sections or c= lines get arrays of their own. With pion/sdp
// v3.0.20 it is 576 bytes, a size class of Go's allocator.
type result struct {
	sd    sdp.SessionDescription
	td    [1]sdp.TimeDescription
	info  sdp.Information
	ptrs  [4]*sdp.MediaDescription
	conns [3]connAddr
}

// connAddr is a c= line's connection information and the address it
// points to, allocated together.
type connAddr struct {
	ci   sdp.ConnectionInformation
	addr sdp.Address
}

type parser struct {
	res   *result
	sd    *sdp.SessionDescription // &res.sd
	st    state
	attrs []sdp.Attribute
	from  int      // first index in attrs of the current section's attributes
	strs  []string // each m-line's protos, then its formats
	mds   []sdp.MediaDescription
	// each c= line's, allocated at once: a pointer to an element stays
	// good even if an append (more c= lines than counted) moves the rest
	conns []connAddr
}

// Parse parses s as pion/sdp's UnmarshalString would, and reports false
// when s is not in the subset it knows (see the package comment): the
// caller then asks pion. The result shares no memory with s: its strings
// share one copy of s, made once s passed the checks that need no
// allocation, so s may be a view of a buffer that is written again once
// Parse returns (a SIP message's body).
func Parse(s string) (*sdp.SessionDescription, bool) {
	return parse(s, false)
}

// ParseOwned is Parse without the copy: the strings of the result are
// substrings of s, and keep all of s alive as long as any is used. s must
// be its caller's and never written again: a string Go made (a
// conversion, a concatenation, a strings.Builder's, a JSON decoder's), or
// an unsafe.String view of bytes nothing writes to, ever after. A view of
// a buffer that is reused (a read buffer, a pooled buffer) must go to
// Parse, which copies it: the result would change under its holder.
func ParseOwned(s string) (*sdp.SessionDescription, bool) {
	return parse(s, true)
}

// parse is Parse, which copies s first unless owned.
func parse(s string, owned bool) (*sdp.SessionDescription, bool) {
	if !strings.HasSuffix(s, "\r\n") {
		return nil, false
	}
	na, nm, nc := countLines(s)
	if nm > maxMedia || na > maxAttributes || nc > maxMedia+1 {
		return nil, false // not a shape browsers or SIP gear send: pion, and the caller's limits, decide
	}
	if !owned {
		s = strings.Clone(s)
	}
	res := &result{}
	p := parser{
		res:   res,
		sd:    &res.sd,
		attrs: make([]sdp.Attribute, 0, na+AttrRoom*nm),
	}
	if nm > 0 {
		p.strs = make([]string, 0, 16*nm)
		p.mds = make([]sdp.MediaDescription, 0, nm)
	}
	if nc > len(res.conns) {
		p.conns = make([]connAddr, 0, nc)
	} else {
		p.conns = res.conns[:0:nc]
	}
	lines := 0
	for rest := s; rest != ""; lines++ {
		i := strings.IndexByte(rest, '\n')
		line, ok := strings.CutSuffix(rest[:i], "\r") // s ends with "\r\n": i >= 0
		rest = rest[i+1:]
		// pion skips empty lines: left to it.
		if !ok || len(line) < 2 || line[1] != '=' || !p.line(line[0], line[2:]) {
			return nil, false
		}
	}
	// pion counts every '\r' of a line as part of its end: lines with
	// another than their last are left to it. Counted at once here, not
	// looked for line by line.
	if strings.Count(s, "\r") != lines {
		return nil, false
	}
	return p.finish()
}

// The arrays Parse makes are sized by the lines it counts before it reads
// them: an SDP with more m=, a= or c= lines than these is declined first,
// so that a message of four-byte lines ("m=\r\n") cannot make it allocate a
// hundred times its size. Browsers send a few media sections with a few
// dozen attributes each; the gateway refuses more than 32 sections anyway.
const (
	maxMedia      = 64
	maxAttributes = 4096
)

// countLines counts the a=, m= and c= lines of s, for the arrays the
// parser fills: each is made once, at its size.
func countLines(s string) (a, m, c int) {
	for i := 0; i+1 < len(s); {
		if s[i+1] == '=' {
			switch s[i] {
			case 'a':
				a++
			case 'm':
				m++
			case 'c':
				c++
			}
		}
		n := strings.IndexByte(s[i:], '\n')
		if n < 0 {
			break
		}
		i += n + 1
	}
	return a, m, c
}

// line parses one line of type key and value v, after pion's state table.
func (p *parser) line(key byte, v string) bool {
	switch {
	case p.st == wantV && key == 'v':
		p.st = wantO
		return v == "0" // pion takes more (an empty version), left to it
	case p.st == wantO && key == 'o':
		p.st = wantS
		return p.origin(v)
	case p.st == wantS && key == 's':
		p.st = afterS
		p.sd.SessionName = sdp.SessionName(v)
		return true
	case p.st == afterS && key == 'i':
		p.st = afterI
		p.res.info = sdp.Information(v)
		p.sd.SessionInformation = &p.res.info
		return true
	case (p.st == afterS || p.st == afterI) && key == 'c':
		p.st = afterCB
		ci, ok := p.connection(v)
		p.sd.ConnectionInformation = ci
		return ok
	case p.st >= afterS && p.st <= afterCB && key == 'b':
		p.st = afterCB
		return p.sessionBandwidth(v)
	case p.st >= afterS && p.st <= afterT && key == 't':
		p.st = afterT
		return p.timing(v)
	case (p.st == afterT || p.st == sessionAttr) && key == 'a':
		p.st = sessionAttr
		p.attrs = append(p.attrs, attribute(v))
		return true
	case p.st >= afterT && key == 'm':
		p.st = inMedia
		return p.media(v)
	case p.st == inMedia:
		return p.mediaLine(key, v)
	}
	return false
}

// mediaLine parses a line of a media section other than m=.
func (p *parser) mediaLine(key byte, v string) bool {
	m := &p.mds[len(p.mds)-1]
	switch key {
	case 'a':
		p.attrs = append(p.attrs, attribute(v))
		return true
	case 'c':
		ci, ok := p.connection(v)
		m.ConnectionInformation = ci
		return ok
	case 'b':
		bw, ok := bandwidth(v)
		m.Bandwidth = append(m.Bandwidth, bw)
		return ok
	}
	return false
}

// finish builds the result. pion ends at the end of the input in any
// state, even before t= (an SDP cut short): those are left to it.
func (p *parser) finish() (*sdp.SessionDescription, bool) {
	if p.st < afterT {
		return nil, false
	}
	p.closeSection()
	sd := p.sd
	switch n := len(p.mds); {
	case n > len(p.res.ptrs):
		sd.MediaDescriptions = make([]*sdp.MediaDescription, n)
	case n > 0:
		sd.MediaDescriptions = p.res.ptrs[:n:n]
	}
	for i := range p.mds {
		sd.MediaDescriptions[i] = &p.mds[i]
	}
	return sd, true
}

// AttrRoom is the spare capacity of each media section's attributes in a
// result: a trickling browser's candidates and end-of-candidates are
// appended to its offer's m-lines (gateway's gatherer), into this room
// instead of a copy of all of them. Capacity is not part of what pion
// makes (reflect.DeepEqual ignores it), and the room lies between one
// section's attributes and the next's, so an append fills its own.
const AttrRoom = 8

// closeSection gives the session, or the last media section, the
// attributes read since it began, once there are no more, and a media
// section AttrRoom more capacity: attrs is sized for all of them, and were
// it not (a miscount), a slice cut before an append moved attrs still
// holds its elements.
func (p *parser) closeSection() {
	n := len(p.mds)
	a := cut(p.attrs, p.from, len(p.attrs))
	if n > 0 && a != nil && cap(p.attrs)-len(p.attrs) >= AttrRoom {
		end := len(p.attrs)
		a = p.attrs[p.from : end : end+AttrRoom]
		p.attrs = p.attrs[:end+AttrRoom]
	}
	if n > 0 {
		p.mds[n-1].Attributes = a
	} else {
		p.sd.Attributes = a
	}
	p.from = len(p.attrs)
}

// cut is s[i:j] capped at its length, as pion's slices are (each its own
// array of that length), and nil when empty, as pion leaves them.
func cut[T any](s []T, i, j int) []T {
	if i == j {
		return nil
	}
	return s[i:j:j]
}
