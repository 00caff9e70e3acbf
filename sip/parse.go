package sip

import (
	"reflect"

	"github.com/emiago/sipgo/sip"
)

// sipgo v1.7.2 keeps the linear white space (LWS) that RFC 3261 §25.1
// allows around ";", "=" and "," in header parameters (and around "/" and
// ":" in Via) inside the parsed names and values: "; tag = 98asjd8" becomes
// the parameter " tag " with value " 98asjd8", and "host ;tag=x" a URI host
// "host ". RFC 4475 §3.1.1.1 (wsinv) is a legal INVITE full of such LWS;
// with it the From tag is lost and the INVITE refused. Not fixed upstream
// as of v1.7.2 (to report at github.com/emiago/sipgo: parse_header.go
// parameter parsing does not trim SWS). Until then our transport parser
// wraps sipgo's From, To, Contact and Via parsers with a normalisation that
// removes that LWS (outside quoted strings) before sipgo sees the value.

// newParser is sipgo's parser with the LWS-tolerant header parsers.
func newParser() *sip.Parser {
	return sip.NewParser(sip.WithHeadersParsers(headerParsers))
}

// headerParsers are the header parsers of newParser, also used alone for
// the headers of an answer read without the full parser (lightanswer.go).
// Read only once made.
var headerParsers = lwsHeaderParsers()

// lwsHeaderParsers is sipgo's map of header parsers with the LWS-tolerant
// ones in place of its From, To, Contact and Via parsers.
func lwsHeaderParsers() sip.HeadersParser {
	base := sip.DefaultHeadersParser()
	m := make(map[string]sip.HeaderParser, len(base))
	for name, p := range base {
		m[name] = p
	}
	for _, name := range []string{"from", "f", "to", "t", "contact", "m"} {
		m[name] = lwsTolerant(base[name], ";=,")
	}
	for _, name := range []string{"via", "v"} {
		m[name] = lwsTolerant(base[name], ";=,/:")
	}
	return m
}

// lwsTolerant runs parse on the value with the LWS around seps removed.
// sipgo's header parsers report a comma (the next value of a multi-value
// header) as an error holding its index into the text they were given;
// ParseHeader then continues after that index in its own, unnormalised
// text, so the index is mapped back.
func lwsTolerant(parse sip.HeaderParser, seps string) sip.HeaderParser {
	if parse == nil {
		return nil
	}
	return func(name []byte, text string) (sip.Header, error) {
		norm, orig := stripLWS(text, seps)
		if len(norm) == len(text) {
			return parse(name, text)
		}
		h, err := parse(name, norm)
		if err != nil {
			err = remapComma(err, orig)
		}
		return h, err
	}
}

// stripLWS removes white space next to any byte of seps, outside quoted
// strings and angle brackets. orig[i] is the index in s of norm[i]. A value
// without such white space (nearly every one) is returned as is, with a nil
// orig, without allocating.
func stripLWS(s, seps string) (norm string, orig []int) {
	if !scanLWS(s, seps, nil) {
		return s, nil
	}
	out := make([]byte, 0, len(s))
	orig = make([]int, 0, len(s))
	scanLWS(s, seps, func(i int) {
		out = append(out, s[i])
		orig = append(orig, i)
	})
	return string(out), orig
}

// scanLWS walks s and calls keep (when not nil) with the index of every
// byte that stays; it reports whether any byte would be removed.
func scanLWS(s, seps string, keep func(int)) bool {
	removed := false
	quoted, escaped, angle := false, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case !angle && isLWS(c) && lwsBeside(s, i, seps):
			removed = true
			continue
		}
		if keep != nil {
			keep(i)
		}
	}
	return removed
}

// lwsBeside reports whether the white space run around s[i] touches a
// separator (or the end of the value).
func lwsBeside(s string, i int, seps string) bool {
	j := i
	for j < len(s) && isLWS(s[j]) {
		j++
	}
	if j == len(s) || indexByte(seps, s[j]) {
		return true
	}
	k := i
	for k >= 0 && isLWS(s[k]) {
		k--
	}
	return k >= 0 && indexByte(seps, s[k])
}

// isLWS is space or tab: sipgo has already unfolded line continuations,
// and a CR or LF still in a value must stay for checkHeaderBytes to see.
func isLWS(c byte) bool { return c == ' ' || c == '\t' }

func indexByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// remapComma translates sipgo's comma error (an unexported integer type:
// the comma's index) from the normalised text to the original one; other
// errors pass unchanged.
func remapComma(err error, orig []int) error {
	v := reflect.ValueOf(err)
	if !v.CanInt() {
		return err
	}
	i := int(v.Int())
	if i < 0 || i >= len(orig) {
		return err
	}
	mapped := reflect.New(v.Type()).Elem()
	mapped.SetInt(int64(orig[i]))
	out, ok := mapped.Interface().(error)
	if !ok {
		return err
	}
	return out
}
