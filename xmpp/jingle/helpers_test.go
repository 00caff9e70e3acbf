package jingle

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

// readFixture returns the bytes of a copied browser fixture.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "browser", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseSDP(t testing.TB, raw []byte) *sdp.SessionDescription {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(raw); err != nil {
		t.Fatalf("pion unmarshal: %v", err)
	}
	return &sd
}

func marshalSDP(t testing.TB, sd *sdp.SessionDescription) string {
	t.Helper()
	b, err := sd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lostLine reports the lines protocols.md §2.3 lists as lost (see doc.go).
func lostLine(l string) bool {
	for _, p := range []string{"a=rtcp:", "a=rtcp-rsize", "a=rtcp-xr:", "a=msid-semantic:", "a=end-of-candidates", "a=bundle-only"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

var (
	lostCandExt = regexp.MustCompile(` (network-cost|network-id|ufrag) \S+`)
)

// sections splits an SDP into its session part and m-sections, each a
// sorted list of lines after dropping the documented losses and normalising
// candidate extensions.
func sections(sdpText string) [][]string {
	var out [][]string
	cur := []string{}
	for _, l := range strings.Split(strings.ReplaceAll(sdpText, "\r\n", "\n"), "\n") {
		if l == "" || lostLine(l) {
			continue
		}
		if strings.HasPrefix(l, "m=") {
			out = append(out, cur)
			cur = []string{}
		}
		if strings.HasPrefix(l, "a=candidate:") {
			l = lostCandExt.ReplaceAllString(l, "")
		}
		cur = append(cur, l)
	}
	out = append(out, cur)
	for _, s := range out {
		slices.Sort(s)
	}
	return out
}

// diffSections returns a readable difference, or "".
func diffSections(want, got string) string {
	w, g := sections(want), sections(got)
	if len(w) != len(g) {
		return "section count differs"
	}
	var b strings.Builder
	for k := range w {
		for _, l := range w[k] {
			if !slices.Contains(g[k], l) {
				b.WriteString("section " + string(rune('0'+k)) + " lost: " + l + "\n")
			}
		}
		for _, l := range g[k] {
			if !slices.Contains(w[k], l) {
				b.WriteString("section " + string(rune('0'+k)) + " added: " + l + "\n")
			}
		}
	}
	return b.String()
}
