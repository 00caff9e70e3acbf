package sip

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Header questions that cost nothing when the answer is no. sipgo's typed
// getters (Via, CSeq, Route, Contact, ...) allocate the header they would
// fill before they look for it, so each question about a header a message
// does not have is an allocation: building a dialog's ACK and BYE asked
// five such questions (the CSeq, Route and Contact of each, dialogState.build;
// the Via, addVia and writeAckUDP), each answered no. has walks the
// headers first: when none bears the name, sipgo's getter finds none
// either (it looks for a header of that name, typed or not), and is asked
// only otherwise, so the answer is always the getter's.

// has reports whether m may hold a header named long or short (its compact
// form, "" for none), in any case. False: m's getter for it returns nil.
func has(m interface{ Headers() []sip.Header }, long, short string) bool {
	for _, h := range m.Headers() {
		name := h.Name()
		if strings.EqualFold(name, long) || short != "" && strings.EqualFold(name, short) {
			return true
		}
	}
	return false
}
