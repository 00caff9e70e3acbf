// Package fastsdp parses the SDPs browsers and SIP gear send into exactly
// the *sdp.SessionDescription that pion/sdp's UnmarshalString makes of
// them, field for field, in a fraction of its time: one pass over whole
// lines instead of pion's byte-at-a-time lexer and state functions.
//
// It knows a subset of what pion accepts: CRLF line ends, no empty lines,
// the session lines v o s i c b t a in pion's order (no u e p z k r), and
// media sections of m c b a lines, with fields separated by single spaces
// and a media port without a range. Anything else, including everything
// pion refuses, is declined (Parse reports false) and left to pion, so
// errors and odd input behave as pion makes them behave.
//
// What is copied: Parse copies its input once, after the checks that need
// no allocation, and the strings of the result are substrings of that one
// copy (as pion's share the copies it makes of its fields), so the input
// may be a view of a buffer that is reused (a SIP body, a pooled
// buffer). ParseOwned skips the copy: the strings of its result are
// substrings of the input itself, which must be its caller's and never
// written again (a string Go made, not an unsafe view of a buffer).
//
// Allocations: besides that copy, a result is a handful of arrays made
// once each at the size counted before parsing (attributes; protos and
// formats; media sections; more than four media pointers or three c=
// lines, rare) and one block for the parts there is one, or a few, of.
// Each slice of the result is cut with its capacity at its length, as
// pion's are, so that an append to one never writes into another; but a
// media section's attributes (when it has any) have AttrRoom more, in the
// same array before the next section's, for the candidates a trickling
// browser adds to its offer (capacity is not part of what pion makes:
// reflect.DeepEqual ignores it).
package fastsdp
