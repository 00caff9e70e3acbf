package jingle

import (
	"fmt"
	"strconv"
)

// SDPError locates a conversion error in an SDP: the m-line index (-1 for
// the session level) and the offending line, as "a=key:value". Err wraps a
// sentinel (ErrBadSDP, ErrBadCandidate, ErrLimit).
type SDPError struct {
	MLine int
	Line  string
	Err   error
}

func (e *SDPError) Error() string {
	where := "session level"
	if e.MLine >= 0 {
		where = "m-line " + strconv.Itoa(e.MLine)
	}
	if e.Line != "" {
		return fmt.Sprintf("%s: %q: %v", where, clip(e.Line), e.Err)
	}
	return where + ": " + e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *SDPError) Unwrap() error { return e.Err }

// JingleError locates a conversion error in a Jingle element: the content
// name ("" for the jingle element itself). Err wraps a sentinel
// (ErrBadJingle, ErrBadCandidate, ErrLimit).
type JingleError struct {
	Content string
	Err     error
}

func (e *JingleError) Error() string {
	if e.Content == "" {
		return "<jingle>: " + e.Err.Error()
	}
	return fmt.Sprintf("<content name=%q>: %v", clip(e.Content), e.Err)
}

// Unwrap returns the wrapped error.
func (e *JingleError) Unwrap() error { return e.Err }

func attrLine(key, value string) string {
	if value == "" {
		return "a=" + key
	}
	return "a=" + key + ":" + value
}
