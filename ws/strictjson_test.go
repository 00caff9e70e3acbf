package ws

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestReadObject(t *testing.T) {
	cases := []struct {
		in   string
		keys []string // nil: refused
	}{
		{`{}`, []string{}},
		{` {"a":1, "b":{"c":[1,2]}} `, []string{"a", "b"}},
		{`{"a":1,"a":2}`, nil},
		{`{"type":"x","Type":"y"}`, nil},
		{`{"a":1}{"b":2}`, nil},
		{`{"a":1} x`, nil},
		{`{"a":}`, nil},
		{`{"a" 1}`, nil},
		{`[1]`, nil},
		{`"s"`, nil},
		{`1`, nil},
		{`null`, nil},
		{``, nil},
		{`{"a":1`, nil},
		{`{"a":"\ud800"}`, []string{"a"}},
		{`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,` +
			`"q":17,"r":18,"s":19,"t":20,"u":21,"v":22,"w":23,"x":24,"y":25,"z":26,"A1":1,"B1":1,"C1":1,"D1":1,"E1":1,"F1":1,"G1":1}`, nil},
	}
	for _, tc := range cases {
		fields, err := readObject(nil, []byte(tc.in))
		if tc.keys == nil {
			if err == nil || !errors.Is(err, ErrMalformed) {
				t.Errorf("%q: err %v, want ErrMalformed", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if len(fields) != len(tc.keys) {
			t.Errorf("%q: %d fields", tc.in, len(fields))
			continue
		}
		for i, f := range fields {
			if f.key != tc.keys[i] {
				t.Errorf("%q: key %d = %q", tc.in, i, f.key)
			}
		}
	}
}

func TestJSONScalars(t *testing.T) {
	if _, ok := jsonString([]byte(`null`)); ok {
		t.Error("null accepted as string")
	}
	if _, ok := jsonString([]byte(`5`)); ok {
		t.Error("number accepted as string")
	}
	for _, in := range []string{`1.5`, `"1"`, `null`, `1e2`, `99999999999999999999`, `true`} {
		if _, ok := jsonInt([]byte(in), 0, 1000); ok {
			t.Errorf("%s accepted as int", in)
		}
	}
	if n, ok := jsonInt([]byte(`-3`), -5, 5); !ok || n != -3 {
		t.Error("-3 refused")
	}
	if _, ok := jsonInt([]byte(`6`), 0, 5); ok {
		t.Error("out of range accepted")
	}
	if !jsonNumber([]byte(`1.5e3`)) || jsonNumber([]byte(`"1"`)) || jsonNumber([]byte(`null`)) {
		t.Error("jsonNumber")
	}
	if _, ok := jsonStrings([]byte(`["a",1]`), 5); ok {
		t.Error("mixed array accepted")
	}
	if _, ok := jsonStrings([]byte(`["a","b"]`), 1); ok {
		t.Error("over-long array accepted")
	}
}

// jsonValidCases are documents at the edges of JSON's grammar, valid and
// not, for the scanner's check against json.Valid (and seeds of
// FuzzScannerValid).
var jsonValidCases = []string{
	`{}`, `[]`, ` { } `, `{"a":[]}`, `{"a":{}}`, `[1,[2,[3]],{"b":[{}]}]`, `{"a":[1,2,]}`, `{"a":{"b":1,}}`,
	`{"a":[1 2]}`, `{"a":{"b" 1}}`, `{"a":{1:2}}`, `{"a":[}`, `{"a":{]}`, `{"a":[[]]]}`, `[`, `{"a":[`,
	`0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-01`, `2.0e0`, `1.e1`,
	`true`, `tru`, `truex`, `false`, `null`, `nul`, `nulll`, `True`,
	`"a"`, `"`, `"\"`, `"\\"`, `"\/\b\f\n\r\t"`, `"\u00e9"`, `"\u00G9"`, `"\u00e"`, `"\x"`, "\"\x01\"", "\"\x7f\"",
	"\"\xff\"", "\"\t\"", `{"a":"\ud800"}`, "{\"a\"\t:\n1\r}", `{"a":1}x`, `{"a":1} `, ``, ` `,
	`{"sdp":{"type":"offer","sdp":"v=0\r\n"}}`, `{"a":[true,false,null,-1.5e+3,"x",{"b":[]}]}`,
}

// scanValue reports whether data is one JSON value (spaces around it) to
// the scanner.
func scanValue(data []byte) bool {
	r := objectReader{data: data}
	r.skipSpace()
	_, err := r.value()
	r.skipSpace()
	return err == nil && r.pos == len(data)
}

// TestScannerValid checks the scanner's syntax check against json.Valid,
// nesting depth at encoding/json's limit included.
func TestScannerValid(t *testing.T) {
	for _, s := range jsonValidCases {
		if got, want := scanValue([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("%q: scanner %v, json.Valid %v", s, got, want)
		}
	}
	for _, depth := range []int{maxNestingDepth, maxNestingDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			close := "]"
			if open != "[" {
				close = "}"
			}
			doc := []byte(strings.Repeat(open, depth) + "1" + strings.Repeat(close, depth))
			if got, want := scanValue(doc), json.Valid(doc); got != want {
				t.Errorf("%d × %q: scanner %v, json.Valid %v", depth, open, got, want)
			}
			obj := []byte(`{"a":` + strings.Repeat(open, depth-1) + "1" + strings.Repeat(close, depth-1) + "}")
			_, err := readObject(nil, obj)
			if got, want := err == nil, json.Valid(obj); got != want {
				t.Errorf("object, %d levels of %q: readObject %v, json.Valid %v", depth, open, err, want)
			}
		}
	}
}

// readObjectTwoPass is readObject as it was: json.Valid first, then the
// split. The one-pass readObject must agree with it on every input
// (FuzzReadObjectOnePass).
func readObjectTwoPass(data []byte) ([]field, error) {
	if !json.Valid(data) {
		return nil, errInvalidJSON
	}
	return splitObject(nil, data)
}

// TestReadObjectOnePassErrors: a document that is both invalid JSON and
// wrong in shape gets "invalid JSON", whichever comes first.
func TestReadObjectOnePassErrors(t *testing.T) {
	for _, s := range []string{`{"a":1,"a":2,}`, `{"a":1,"A":2`, `[1,}`, `{"a":1} {`, `{"a":1,"a":2} x`} {
		_, err := readObject(nil, []byte(s))
		if err != errInvalidJSON {
			t.Errorf("%q: %v, want %v", s, err, errInvalidJSON)
		}
	}
}
