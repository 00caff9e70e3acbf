// Package interop is sigbridge's interop harness: scenarios that drive real
// peers through a gateway over the wire and report a matrix.
package interop
