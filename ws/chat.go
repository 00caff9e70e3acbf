package ws

import (
	"regexp"
	"strings"
)

var tagRE = regexp.MustCompile(`<[^>]*>`)

// stripHTML removes tags from chat text, as the MDN sample server does, and
// then any '<' or '>' left over: the sample client inserts text with
// innerHTML, so an unterminated "<img onerror=…" must not survive.
func stripHTML(s string) string {
	s = tagRE.ReplaceAllString(s, "")
	return strings.NewReplacer("<", "", ">", "").Replace(s)
}
