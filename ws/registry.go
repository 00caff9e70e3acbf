package ws

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sigbridge/sigbridge/gateway"
)

// Registry shares user names with the other nodes of a cluster
// (cmd/sigbridge backs it with package cluster). Without one, names are
// this process's alone.
type Registry interface {
	// Claim makes name this node's, unique across the cluster. An error
	// wrapping ErrNameInUse means another node has it; any other error
	// means the registry cannot be reached.
	Claim(ctx context.Context, name string) error
	// Release gives name up. It must not block; releases and claims of
	// one name are applied in the order they were made.
	Release(name string)
	// Watch calls fn, from one goroutine and in order, when a name comes
	// online or goes offline on another node (starting with every name
	// online there now). stop ends the watch.
	Watch(fn func(name string, online bool)) (stop func())
}

// claimTimeout bounds one registry claim.
const claimTimeout = 5 * time.Second

// maxClaimTries bounds the derived names tried when the wanted one is
// taken on another node.
const maxClaimTries = 8

// UseRegistry shares the directory through r: names are unique across
// the cluster, and the user list shows the other nodes' users. Call it
// before the server takes connections.
func (s *Server) UseRegistry(r Registry) {
	s.dir.mu.Lock()
	s.dir.reg = r
	s.dir.mu.Unlock()
	s.stopWatch = r.Watch(s.dir.remoteChange)
}

// registryClaim claims name in the registry without holding d.mu.
func (d *directory) registryClaim(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	defer cancel()
	err := d.reg.Claim(ctx, name)
	switch {
	case err == nil, errors.Is(err, ErrNameInUse):
		return err
	}
	return fmt.Errorf("%w: %w", ErrDirectoryDown, err)
}

// remoteChange records a name coming online or leaving on another node.
func (d *directory) remoteChange(name string, online bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, local := d.names[name]
	if online {
		d.remote[name] = struct{}{}
		if len(d.seen) < maxSeen {
			d.seen[name] = struct{}{}
		}
		if !local {
			d.lists.joined(name)
			d.lists.request()
		}
		return
	}
	if _, ok := d.remote[name]; !ok {
		return
	}
	delete(d.remote, name)
	if !local {
		d.lists.left(name)
		d.lists.request()
	}
}

// NameLost closes the connection logged in as name here: the cluster
// registry found the name held by another node (taken while this node was
// cut off from the others), so calls to it now reach that node. The
// client gets error 409 and close 1008 and may log in again.
func (s *Server) NameLost(name string) {
	s.dir.mu.Lock()
	c := s.dir.names[name]
	s.dir.mu.Unlock()
	if c == nil {
		return
	}
	c.sendError(fmt.Errorf("%w: %s is logged in on another node", ErrNameInUse, name), "", "")
	c.closeWith(closeInfo{code: websocket.ClosePolicyViolation, text: "name taken on another node", flush: true,
		reason: gateway.ReasonDisconnected})
}
