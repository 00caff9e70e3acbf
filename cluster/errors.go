package cluster

import "errors"

var (
	// ErrTaken: the key is held by another live node.
	ErrTaken = errors.New("cluster: taken by another node")
	// ErrUnavailable: NATS is unreachable, or the node is closed.
	ErrUnavailable = errors.New("cluster: unavailable")
	// ErrNodeGone: the node asked for is not alive.
	ErrNodeGone = errors.New("cluster: node not alive")

	errQueueFull = errors.New("cluster: call queue full")
	errLegPanic  = errors.New("cluster: leg panicked")
)

func isTaken(err error) bool { return errors.Is(err, ErrTaken) }
