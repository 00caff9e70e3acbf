package xmpp

import (
	"bytes"
	"fmt"
	"io"
)

// framer sits between the network connection and mellium's XML decoder. It
// scans the raw bytes, cuts the stream into top-level elements (stanzas,
// stream features, handshakes) and releases each one only once it is
// complete and has passed checkStanza. A stanza that is too large, holds a
// DTD, comment or processing instruction, is nested too deep or is not
// well-formed is dropped and reported to reject instead: mellium never sees
// it, so one bad stanza cannot end the stream. Stream-level junk (text,
// comments, directives between stanzas) is dropped the same way, with a nil
// head.
//
// Memory is bounded by the stanza limit: a stanza over it is skipped without
// buffering (only its start tag is kept, to answer it); one over
// discardFactor times the limit ends the stream with ErrStanzaTooLarge.
type framer struct {
	src    io.Reader
	max    int
	reject func(head []byte, err error)

	raw     bool         // pass-through (under TLS, see setRaw)
	autoRaw bool         // switch to pass-through after a STARTTLS <proceed/>
	out     bytes.Buffer // released bytes
	rbuf    []byte
	err     error

	depth   int    // open elements; 1 inside <stream:stream>
	unit    []byte // the markup or stanza being collected
	size    int    // bytes of the current unit, counted even when over
	over    bool   // the unit exceeded max: no longer collected
	headEnd int    // length of the stanza's start tag in unit (0: unknown)
	bad     error  // first rule the current stanza broke
	junk    bool   // in a run of text at stream level
	stream  string // qualified name of the stream element
	sc      tagScanner
}

// scanState is the position of the byte scanner.
type scanState uint8

const (
	stText      scanState = iota
	stLt                  // after '<'
	stStart               // in a start tag
	stEnd                 // in an end tag
	stPI                  // in <?...?>
	stBang                // after "<!", deciding what follows
	stComment             // in <!--...-->
	stCDATA               // in <![CDATA[...]]>
	stDirective           // in <!...> (DOCTYPE and friends)
)

// markup kinds reported when a construct ends.
type markup uint8

const (
	mkStart markup = iota
	mkEmpty        // a self-closing start tag
	mkEnd
	mkPI
	mkComment
	mkCDATA
	mkDirective
)

// tagScanner holds the per-construct scanning state.
type tagScanner struct {
	st       scanState
	quote    byte // open attribute quote, 0 outside
	prev     byte // previous significant byte
	last2    [2]byte
	attrs    int    // '=' seen outside quotes in a start tag
	name     []byte // element name (capped)
	inName   bool
	bang     []byte // bytes after "<!" while deciding
	brackets int    // [ ] nesting inside a directive
}

const maxNameBytes = 64

func newFramer(src io.Reader, max int, reject func([]byte, error)) *framer {
	if max <= 0 {
		max = DefaultMaxStanzaBytes
	}
	return &framer{src: src, max: max, reject: reject, rbuf: make([]byte, 32<<10)}
}

// setRaw makes the framer pass bytes through unchanged from now on (the
// stream is about to become TLS; a new framer runs above it).
func (f *framer) setRaw() { f.raw = true }

// Read implements io.Reader with the released bytes.
func (f *framer) Read(p []byte) (int, error) {
	for f.out.Len() == 0 {
		if f.err != nil {
			return 0, f.err
		}
		if f.raw {
			return f.src.Read(p)
		}
		n, err := f.src.Read(f.rbuf)
		f.scan(f.rbuf[:n])
		if err != nil && f.err == nil {
			f.err = err
		}
	}
	return f.out.Read(p)
}

func (f *framer) scan(b []byte) {
	for i, c := range b {
		if f.err != nil {
			return
		}
		f.feed(c)
		if f.raw { // <proceed/> ended the XML below TLS
			f.out.Write(b[i+1:])
			return
		}
	}
}

func (f *framer) feed(c byte) {
	s := &f.sc
	if s.st == stText {
		f.text(c)
		return
	}
	f.add(c)
	switch s.st {
	case stLt:
		f.afterLt(c)
	case stStart:
		f.inStart(c)
	case stEnd:
		f.inEnd(c)
	case stPI:
		f.until(c, 0, '?', mkPI)
	case stBang:
		f.afterBang(c)
	case stComment:
		f.until(c, '-', '-', mkComment)
	case stCDATA:
		f.until(c, ']', ']', mkCDATA)
	case stDirective:
		f.inDirective(c)
	}
}

// text handles a byte outside markup.
func (f *framer) text(c byte) {
	switch {
	case c == '<':
		f.junk = false
		f.sc = tagScanner{st: stLt, name: f.sc.name[:0], bang: f.sc.bang[:0]}
		if f.depth <= 1 {
			f.startUnit()
		}
		f.add(c)
	case f.depth >= 2:
		f.add(c)
	case isSpace(c):
		f.out.WriteByte(c) // whitespace between stanzas (keepalives)
	case !f.junk: // report a run of junk text once
		f.junk = true
		f.drop(nil, fmt.Errorf("%w: text at stream level", ErrMalformedXML))
	}
}

func (f *framer) startUnit() {
	f.unit, f.size, f.over, f.headEnd, f.bad = f.unit[:0], 0, false, 0, nil
}

// add appends c to the current unit, within the limits.
func (f *framer) add(c byte) {
	f.size++
	switch {
	case f.size > f.max*discardFactor:
		f.err = fmt.Errorf("%w: over %d bytes, giving up on the stream", ErrStanzaTooLarge, f.max*discardFactor)
	case f.over:
	case f.size > f.max:
		f.over = true
		f.unit = f.unit[:min(f.headEnd, len(f.unit))]
	default:
		f.unit = append(f.unit, c)
	}
}

func (f *framer) afterLt(c byte) {
	s := &f.sc
	switch c {
	case '/':
		s.st, s.inName = stEnd, true
	case '?':
		s.st = stPI
	case '!':
		s.st = stBang
	default:
		s.st, s.inName = stStart, true
		f.inStart(c)
	}
}

// inStart scans a start tag: quotes, attribute count, name, the final '>'.
func (f *framer) inStart(c byte) {
	s := &f.sc
	if s.quote != 0 {
		if c == s.quote {
			s.quote = 0
		}
		return
	}
	switch {
	case c == '>':
		f.endMarkup(map[bool]markup{true: mkEmpty, false: mkStart}[s.prev == '/'])
		return
	case c == '"' || c == '\'':
		s.quote = c
	case c == '=':
		s.attrs++
	}
	if s.inName {
		if isSpace(c) || c == '/' {
			s.inName = false
		} else if len(s.name) < maxNameBytes {
			s.name = append(s.name, c)
		}
	}
	if !isSpace(c) {
		s.prev = c
	}
}

// inEnd scans an end tag: its name, then the final '>'.
func (f *framer) inEnd(c byte) {
	s := &f.sc
	switch {
	case c == '>':
		f.endMarkup(mkEnd)
	case isSpace(c):
		s.inName = false
	case s.inName && len(s.name) < maxNameBytes:
		s.name = append(s.name, c)
	}
}

// until ends the construct at "ab>" (a == 0: at "b>").
func (f *framer) until(c, a, b byte, k markup) {
	s := &f.sc
	if c == '>' && s.last2[1] == b && (a == 0 || s.last2[0] == a) {
		f.endMarkup(k)
		return
	}
	s.last2 = [2]byte{s.last2[1], c}
}

// afterBang decides between a comment, CDATA and a directive.
func (f *framer) afterBang(c byte) {
	s := &f.sc
	s.bang = append(s.bang, c)
	switch {
	case string(s.bang) == "--":
		s.st = stComment
	case string(s.bang) == "[CDATA[":
		s.st = stCDATA
	case isPrefix(s.bang, "--"), isPrefix(s.bang, "[CDATA["):
	default:
		s.st = stDirective
		for _, b := range s.bang {
			f.inDirective(b)
		}
	}
}

func isPrefix(b []byte, s string) bool { return len(b) < len(s) && s[:len(b)] == string(b) }

// inDirective scans <!DOCTYPE ... [ ... ]> with quotes and brackets.
func (f *framer) inDirective(c byte) {
	s := &f.sc
	switch {
	case s.st != stDirective:
	case s.quote != 0:
		if c == s.quote {
			s.quote = 0
		}
	case c == '"' || c == '\'':
		s.quote = c
	case c == '[':
		s.brackets++
	case c == ']' && s.brackets > 0:
		s.brackets--
	case c == '>' && s.brackets == 0:
		f.endMarkup(mkDirective)
	}
}

// endMarkup is called when a construct is complete.
func (f *framer) endMarkup(k markup) {
	attrs, name := f.sc.attrs, string(f.sc.name)
	f.sc.st = stText
	if f.depth >= 2 {
		f.inStanza(k, attrs)
		return
	}
	f.atStreamLevel(k, name, attrs)
}

// inStanza tracks depth and the rules inside a stanza.
func (f *framer) inStanza(k markup, attrs int) {
	switch k {
	case mkStart, mkEmpty:
		if attrs > MaxStanzaAttrs {
			f.fail(fmt.Errorf("%w: %d", ErrTooManyAttrs, attrs))
		}
		if k == mkStart {
			f.depth++
		}
		if f.depth-1 > MaxStanzaDepth {
			f.fail(fmt.Errorf("%w: depth %d", ErrTooDeep, f.depth-1))
		}
	case mkEnd:
		f.depth--
		if f.depth == 1 {
			f.complete()
		}
	case mkPI, mkComment, mkDirective:
		f.fail(ErrRestrictedXML)
	}
}

func (f *framer) fail(err error) {
	if f.bad == nil {
		f.bad = err
	}
}

// atStreamLevel handles a construct outside any stanza.
func (f *framer) atStreamLevel(k markup, name string, attrs int) {
	switch {
	case k == mkPI && bytes.HasPrefix(f.unit, []byte("<?xml ")) && f.depth == 0:
		f.release()
	case k == mkPI && bytes.HasPrefix(f.unit, []byte("<?xml ")):
		f.unit = f.unit[:0] // the declaration of a restarted stream (after SASL)
	case k == mkStart && (f.depth == 0 || name == f.stream):
		f.depth, f.stream = 1, name // stream header, or a restart after SASL or TLS
		f.release()
	case k == mkEnd && f.depth == 1 && name == f.stream:
		f.depth = 0 // </stream:stream>
		f.release()
	case f.depth == 1 && (k == mkStart || k == mkEmpty):
		f.beginStanza(k, attrs)
	default:
		f.drop(nil, fmt.Errorf("%w: markup at stream level", ErrRestrictedXML))
	}
}

func (f *framer) beginStanza(k markup, attrs int) {
	if !f.over {
		f.headEnd = len(f.unit)
	}
	if attrs > MaxStanzaAttrs {
		f.fail(fmt.Errorf("%w: %d", ErrTooManyAttrs, attrs))
	}
	if k == mkEmpty {
		f.complete()
		return
	}
	f.depth = 2
}

// complete checks a finished stanza and releases or refuses it.
func (f *framer) complete() {
	err := f.bad
	switch {
	case f.over:
		err = fmt.Errorf("%w: %d bytes (max %d)", ErrStanzaTooLarge, f.size, f.max)
	case err == nil:
		err = checkStanza(f.unit)
	}
	if err != nil {
		f.drop(f.unit[:min(f.headEnd, len(f.unit))], err)
		return
	}
	f.raw = f.raw || (f.autoRaw && isProceed(f.unit))
	f.release()
}

// isProceed reports whether a stanza is the STARTTLS <proceed/>, after
// which the server speaks TLS.
func isProceed(b []byte) bool {
	return bytes.HasPrefix(b, []byte("<proceed")) && bytes.Contains(b, []byte("urn:ietf:params:xml:ns:xmpp-tls"))
}

func (f *framer) release() {
	f.out.Write(f.unit)
	f.unit = f.unit[:0]
}

func (f *framer) drop(head []byte, err error) {
	if len(head) > maxHeadBytes {
		head = nil
	}
	if f.reject != nil {
		f.reject(head, err)
	}
	f.unit = f.unit[:0]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
