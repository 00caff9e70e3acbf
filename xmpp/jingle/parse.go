package jingle

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Parse reads one <jingle xmlns='urn:xmpp:jingle:1'> element from untrusted
// input. It rejects input over MaxStanzaSize, any DTD or other directive,
// processing instructions (an XML declaration is allowed as the very first
// token), comments, nesting deeper than MaxDepth and elements with more than
// MaxAttrs attributes. Errors wrap ErrBadXML (and a more specific sentinel)
// and name the element at fault.
func Parse(data []byte) (*Jingle, error) {
	if len(data) > MaxStanzaSize {
		return nil, fmt.Errorf("%w: %w: %d bytes (max %d)", ErrBadXML, ErrTooLarge, len(data), MaxStanzaSize)
	}
	g := newGuard(bytes.NewReader(data))
	dec := xml.NewTokenDecoder(g)
	start, err := rootStart(dec, g)
	if err != nil {
		return nil, err
	}
	var j Jingle
	if err := dec.DecodeElement(&j, &start); err != nil {
		return nil, g.wrap(err)
	}
	if err := expectEOF(dec, g); err != nil {
		return nil, err
	}
	return &j, nil
}

// ParseReader reads at most MaxStanzaSize bytes from r and parses them.
func ParseReader(r io.Reader) (*Jingle, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxStanzaSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read: %w", ErrBadXML, err)
	}
	return Parse(data)
}

// Marshal encodes the element (without an XML declaration).
func (j *Jingle) Marshal() ([]byte, error) {
	if j == nil {
		return nil, fmt.Errorf("%w: nil", ErrBadJingle)
	}
	return xml.Marshal(j)
}

func rootStart(dec *xml.Decoder, g *guard) (xml.StartElement, error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return xml.StartElement{}, fmt.Errorf("%w: no <jingle> element", ErrBadXML)
			}
			return xml.StartElement{}, g.wrap(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space != NSJingle || t.Name.Local != "jingle" {
				return t, fmt.Errorf("%w: root is <%s xmlns=%q>, want <jingle xmlns=%q>",
					ErrBadXML, clip(t.Name.Local), clip(t.Name.Space), NSJingle)
			}
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return xml.StartElement{}, fmt.Errorf("%w: text before <jingle>", ErrBadXML)
			}
		}
	}
}

func expectEOF(dec *xml.Decoder, g *guard) error {
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return g.wrap(err)
		}
		if cd, ok := tok.(xml.CharData); !ok || len(bytes.TrimSpace(cd)) != 0 {
			return fmt.Errorf("%w: data after </jingle>", ErrBadXML)
		}
	}
}

// guard is an xml.TokenReader that enforces the safety rules on raw tokens
// and remembers the open elements for error messages.
type guard struct {
	d      *xml.Decoder
	stack  []string
	tokens int
}

func newGuard(r io.Reader) *guard {
	d := xml.NewDecoder(r)
	d.Strict = true
	return &guard{d: d, stack: make([]string, 0, 8)}
}

// Token implements xml.TokenReader.
func (g *guard) Token() (xml.Token, error) {
	tok, err := g.d.RawToken()
	if err != nil {
		return tok, err
	}
	g.tokens++
	switch t := tok.(type) {
	case xml.StartElement:
		err = g.start(t)
	case xml.EndElement:
		if len(g.stack) > 0 {
			g.stack = g.stack[:len(g.stack)-1]
		}
	case xml.Directive:
		err = fmt.Errorf("%w: <!%s>", ErrDTD, clip(firstWord(t)))
	case xml.ProcInst:
		if t.Target != "xml" || g.tokens != 1 {
			err = fmt.Errorf("%w: <?%s?>", ErrProcInst, clip(t.Target))
		}
	case xml.Comment:
		err = fmt.Errorf("%w: comment", ErrProcInst)
	}
	if err != nil {
		return nil, g.wrap(err)
	}
	return tok, nil
}

func (g *guard) start(t xml.StartElement) error {
	name := qname(t.Name)
	if len(g.stack) >= MaxDepth {
		return fmt.Errorf("%w: <%s> at depth %d (max %d)", ErrTooDeep, clip(name), len(g.stack)+1, MaxDepth)
	}
	g.stack = append(g.stack, name)
	if len(t.Attr) > MaxAttrs {
		return fmt.Errorf("%w: %d attributes (max %d)", ErrTooManyAttrs, len(t.Attr), MaxAttrs)
	}
	return nil
}

// wrap turns an error into an ErrBadXML error naming the open elements.
func (g *guard) wrap(err error) error {
	switch {
	case errors.Is(err, ErrBadXML):
		return err
	case len(g.stack) == 0:
		return fmt.Errorf("%w: %w", ErrBadXML, err)
	}
	return fmt.Errorf("%w: in <%s>: %w", ErrBadXML, g.path(), err)
}

func (g *guard) path() string {
	p := strings.Join(g.stack, "/")
	if len(p) > 200 {
		p = "..." + p[len(p)-200:]
	}
	return p
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

func firstWord(b []byte) string {
	s := string(b)
	if i := strings.IndexAny(s, " \t\r\n["); i >= 0 {
		return s[:i]
	}
	return s
}
