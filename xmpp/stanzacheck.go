package xmpp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// checkStanza tokenizes one complete top-level element with a strict
// decoder and enforces the XML rules of protocols.md §6.1: one root element,
// well-formed and balanced, no DTD, comment or processing instruction, depth
// and attribute limits. The framer releases an element to mellium only if it
// passes, so mellium's decoder never meets input that would end the stream.
func checkStanza(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var stack []xml.Name
	roots := 0
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrMalformedXML, err)
		}
		if err := checkToken(tok, &stack, &roots); err != nil {
			return err
		}
	}
	if len(stack) != 0 || roots != 1 {
		return fmt.Errorf("%w: unbalanced element", ErrMalformedXML)
	}
	return nil
}

func checkToken(tok xml.Token, stack *[]xml.Name, roots *int) error {
	switch t := tok.(type) {
	case xml.StartElement:
		return checkStart(t, stack, roots)
	case xml.EndElement:
		n := len(*stack)
		if n == 0 || (*stack)[n-1] != t.Name {
			return fmt.Errorf("%w: unexpected end element %s", ErrMalformedXML, clipName(t.Name))
		}
		*stack = (*stack)[:n-1]
	case xml.CharData:
		if len(*stack) == 0 && len(bytes.TrimSpace(t)) != 0 {
			return fmt.Errorf("%w: text outside the element", ErrMalformedXML)
		}
	case xml.Comment, xml.ProcInst, xml.Directive:
		return ErrRestrictedXML
	}
	return nil
}

func checkStart(t xml.StartElement, stack *[]xml.Name, roots *int) error {
	if len(*stack) == 0 {
		*roots++
		if *roots > 1 {
			return fmt.Errorf("%w: more than one element", ErrMalformedXML)
		}
	}
	*stack = append(*stack, t.Name)
	if len(*stack) > MaxStanzaDepth {
		return fmt.Errorf("%w: depth %d", ErrTooDeep, len(*stack))
	}
	if len(t.Attr) > MaxStanzaAttrs {
		return fmt.Errorf("%w: %d on %s", ErrTooManyAttrs, len(t.Attr), clipName(t.Name))
	}
	return nil
}

func clipName(n xml.Name) string {
	s := n.Local
	if n.Space != "" {
		s = n.Space + ":" + s
	}
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Sprintf("<%s>", s)
}
