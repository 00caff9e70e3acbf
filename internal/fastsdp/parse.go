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

// span is a media section's attributes and protos and formats in the
// parser's shared arrays, sliced out at the end, once they stop growing.
type span struct {
	attrs, protos, formats int // first index of each
	attrsEnd, formatsEnd   int
}

type parser struct {
	sd    *sdp.SessionDescription
	st    state
	attrs []sdp.Attribute
	strs  []string // each m-line's protos, then its formats
	mds   []sdp.MediaDescription
	spans []span
	// each c= line's, allocated at once: a pointer to an element stays
	// good even if an append (more c= lines than counted) moves the rest
	conns []sdp.ConnectionInformation
	addrs []sdp.Address
}

// Parse parses s as pion/sdp's UnmarshalString would, and reports false
// when s is not in the subset it knows (see the package comment): the
// caller then asks pion.
func Parse(s string) (*sdp.SessionDescription, bool) {
	if !strings.HasSuffix(s, "\r\n") {
		return nil, false
	}
	s = strings.Clone(s)
	na, nm, nc := countLines(s)
	if nm > maxMedia || na > maxAttributes || nc > maxMedia+1 {
		return nil, false // not a shape browsers or SIP gear send: pion, and the caller's limits, decide
	}
	p := parser{
		sd:    &sdp.SessionDescription{},
		attrs: make([]sdp.Attribute, 0, na),
		strs:  make([]string, 0, 16*nm),
		mds:   make([]sdp.MediaDescription, 0, nm),
		spans: make([]span, 0, nm),
	}
	if nc > 0 {
		p.conns = make([]sdp.ConnectionInformation, 0, nc)
		p.addrs = make([]sdp.Address, 0, nc)
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
		info := sdp.Information(v)
		p.sd.SessionInformation = &info
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
	p.closeMedia()
	sd := p.sd
	nSess := len(p.attrs)
	if len(p.spans) > 0 {
		nSess = p.spans[0].attrs
	}
	sd.Attributes = cut(p.attrs, 0, nSess)
	if len(p.mds) > 0 {
		sd.MediaDescriptions = make([]*sdp.MediaDescription, len(p.mds))
	}
	for i := range p.mds {
		m, sp := &p.mds[i], p.spans[i]
		m.Attributes = cut(p.attrs, sp.attrs, sp.attrsEnd)
		m.MediaName.Protos = cut(p.strs, sp.protos, sp.formats)
		m.MediaName.Formats = cut(p.strs, sp.formats, sp.formatsEnd)
		sd.MediaDescriptions[i] = m
	}
	return sd, true
}

// closeMedia notes where the last media section's attributes end.
func (p *parser) closeMedia() {
	if n := len(p.spans); n > 0 {
		p.spans[n-1].attrsEnd = len(p.attrs)
	}
}

// cut is s[i:j] capped at its length, as pion's slices are (each its own
// array of that length), and nil when empty, as pion leaves them.
func cut[T any](s []T, i, j int) []T {
	if i == j {
		return nil
	}
	return s[i:j:j]
}
