package rtpengine

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestBencodeRoundTrip(t *testing.T) {
	in := map[string]any{"command": "offer", "n": int64(-42), "flags": []any{"a", "b"},
		"d": map[string]any{"x": "", "y": []any{}}}
	enc, err := Encode(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := "d7:command5:offer1:dd1:x0:1:ylee5:flagsl1:a1:be1:ni-42ee"; string(enc) != want {
		t.Fatalf("encoded %q, want %q (sorted keys)", enc, want)
	}
	out, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("decoded %#v, want %#v", out, in)
	}
}

func TestBencodeRejects(t *testing.T) {
	for _, in := range []string{"", "i", "ie", "i01e", "i-0e", "i123456789012345678901e", "5:abc",
		"-1:a", "l", "d", "d1:ae", "di1e1:ae", "1:ab", "x", "99999999999:a",
		strings.Repeat("l", 40) + strings.Repeat("e", 40)} {
		if v, err := Decode([]byte(in)); err == nil || !errors.Is(err, ErrBencode) {
			t.Errorf("Decode(%q) = %#v, %v; want ErrBencode", in, v, err)
		}
	}
	big := "l" + strings.Repeat("i1e", maxItems+1) + "e"
	if _, err := Decode([]byte(big)); err == nil {
		t.Error("more than maxItems elements accepted")
	}
	if _, err := Decode(make([]byte, MaxMessage+1)); err == nil {
		t.Error("oversized message accepted")
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"d6:result4:ponge", "d3:sdp5:v=0\r\n6:result2:oke", "li1ei-2el0:ee", "i0e"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err != nil {
			return
		}
		enc, err := Encode(nil, v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		v2, err := Decode(enc)
		if err != nil || !reflect.DeepEqual(v, v2) {
			t.Fatalf("re-decode of %q: %#v, %v", enc, v2, err)
		}
	})
}
