// Package oneslot gives a queue that is empty most of the time an array
// of one element of its own (Slot), so that queueing a lone element into
// it allocates nothing: a call's inbox (gateway) and a connection's send
// queue (ws) hold one event or message at a time in the common case, and
// an array made per element was an allocation each.
package oneslot
