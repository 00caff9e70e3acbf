package sip

import "testing"

// TestNewTag: our tags are 32 lowercase hex digits, never repeated; no
// capital letter, so none spells a header name such as "CSeq" (which SIPp
// looks for with strstr in the whole message).
func TestNewTag(t *testing.T) {
	seen := make(map[string]bool)
	for range 20000 {
		tag := newTag()
		if len(tag) != 32 {
			t.Fatalf("tag %q: %d characters, want 32", tag, len(tag))
		}
		for _, c := range tag {
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				t.Fatalf("tag %q has %q, want lowercase hex only", tag, c)
			}
		}
		if seen[tag] {
			t.Fatalf("tag %q made twice", tag)
		}
		seen[tag] = true
	}
}
