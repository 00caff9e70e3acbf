package rtpengine

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// Bencode values are string (byte strings), int64, []any (lists) and
// map[string]any (dictionaries). Encode also takes []byte, int, []string
// and bool (as "yes"/"no", rtpengine's flag convention is by presence, so
// callers rarely need it).

// Limits bound what Decode accepts from the network.
const (
	MaxMessage = 256 << 10 // bytes of one ng message
	maxDepth   = 32        // nesting of lists and dictionaries
	maxItems   = 1 << 14   // elements of all lists and dictionaries in one message
	maxIntLen  = 20        // digits of an integer, sign included
)

// ErrBencode is wrapped by every decoding error.
var ErrBencode = errors.New("rtpengine: bad bencode")

// Encode appends the bencoding of v to dst. Dictionary keys are sorted, as
// bencode requires.
func Encode(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		dst = strconv.AppendInt(dst, int64(len(x)), 10)
		dst = append(dst, ':')
		return append(dst, x...), nil
	case []byte:
		dst = strconv.AppendInt(dst, int64(len(x)), 10)
		dst = append(dst, ':')
		return append(dst, x...), nil
	case int:
		return encodeInt(dst, int64(x)), nil
	case int64:
		return encodeInt(dst, x), nil
	case bool:
		if x {
			return Encode(dst, "yes")
		}
		return Encode(dst, "no")
	case []string:
		dst = append(dst, 'l')
		for _, s := range x {
			dst, _ = Encode(dst, s)
		}
		return append(dst, 'e'), nil
	case []any:
		dst = append(dst, 'l')
		for _, e := range x {
			var err error
			if dst, err = Encode(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, 'e'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = append(dst, 'd')
		for _, k := range keys {
			dst, _ = Encode(dst, k)
			var err error
			if dst, err = Encode(dst, x[k]); err != nil {
				return nil, err
			}
		}
		return append(dst, 'e'), nil
	}
	return nil, fmt.Errorf("rtpengine: cannot bencode %T", v)
}

func encodeInt(dst []byte, n int64) []byte {
	dst = append(dst, 'i')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, 'e')
}

// Decode decodes exactly one bencoded value that fills all of data. It
// never panics; inputs beyond MaxMessage, nested deeper than 32 levels or
// holding more than 16384 elements are refused.
func Decode(data []byte) (any, error) {
	if len(data) > MaxMessage {
		return nil, fmt.Errorf("%w: %d bytes exceed %d", ErrBencode, len(data), MaxMessage)
	}
	d := decoder{data: data}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.pos != len(data) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBencode, len(data)-d.pos)
	}
	return v, nil
}

type decoder struct {
	data  []byte
	pos   int
	items int
}

func (d *decoder) errorf(format string, a ...any) error {
	return fmt.Errorf("%w at offset %d: %s", ErrBencode, d.pos, fmt.Sprintf(format, a...))
}

func (d *decoder) value(depth int) (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.errorf("unexpected end")
	}
	switch c := d.data[d.pos]; {
	case c == 'i':
		return d.integer()
	case c >= '0' && c <= '9':
		return d.str()
	case c == 'l' || c == 'd':
		if depth >= maxDepth {
			return nil, d.errorf("nested deeper than %d", maxDepth)
		}
		d.pos++
		if c == 'l' {
			return d.list(depth)
		}
		return d.dict(depth)
	default:
		return nil, d.errorf("unexpected byte %q", c)
	}
}

func (d *decoder) integer() (int64, error) {
	d.pos++ // 'i'
	end := bytes.IndexByte(d.data[d.pos:], 'e')
	if end < 1 || end > maxIntLen {
		return 0, d.errorf("bad integer")
	}
	digits := string(d.data[d.pos : d.pos+end])
	if (len(digits) > 1 && digits[0] == '0') || digits == "-0" || (len(digits) > 2 && digits[:2] == "-0") {
		return 0, d.errorf("non-canonical integer %q", digits)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, d.errorf("bad integer %q", digits)
	}
	d.pos += end + 1
	return n, nil
}

func (d *decoder) str() (string, error) {
	colon := bytes.IndexByte(d.data[d.pos:], ':')
	if colon < 1 || colon > 10 {
		return "", d.errorf("bad string length")
	}
	n, err := strconv.Atoi(string(d.data[d.pos : d.pos+colon]))
	if err != nil || n < 0 {
		return "", d.errorf("bad string length")
	}
	start := d.pos + colon + 1
	if n > len(d.data)-start {
		return "", d.errorf("string of %d bytes past the end", n)
	}
	d.pos = start + n
	return string(d.data[start:d.pos]), nil
}

func (d *decoder) count() error {
	d.items++
	if d.items > maxItems {
		return d.errorf("more than %d elements", maxItems)
	}
	return nil
}

func (d *decoder) list(depth int) ([]any, error) {
	l := []any{}
	for {
		if d.pos >= len(d.data) {
			return nil, d.errorf("unterminated list")
		}
		if d.data[d.pos] == 'e' {
			d.pos++
			return l, nil
		}
		if err := d.count(); err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		l = append(l, v)
	}
}

func (d *decoder) dict(depth int) (map[string]any, error) {
	m := map[string]any{}
	for {
		if d.pos >= len(d.data) {
			return nil, d.errorf("unterminated dictionary")
		}
		if d.data[d.pos] == 'e' {
			d.pos++
			return m, nil
		}
		if err := d.count(); err != nil {
			return nil, err
		}
		if c := d.data[d.pos]; c < '0' || c > '9' {
			return nil, d.errorf("dictionary key is not a string")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
}
