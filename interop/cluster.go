package interop

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// StartLocalCluster starts n local gateways as the nodes of one cluster on
// the NATS servers nats, named node1 … nodeN: the first as StartLocal with
// o would (its Prosody, when o.Prosody is set, serves them all: every
// node is configured with the same XEP-0114 component, which one of them
// holds at a time), the others sharing its Prosody and its SIPp callees'
// address. With o.Rtpengine each node starts its own rtpengine (a node
// anchors the plain-RTP calls it takes). With o.Dir, node i keeps its files in o.Dir/node<i>. On error
// the nodes already started are closed.
func StartLocalCluster(ctx context.Context, o LocalOptions, nats []string, n int) ([]*Local, error) {
	if n < 1 || len(nats) == 0 {
		return nil, errors.New("interop: a cluster needs NATS and at least one node")
	}
	var nodes []*Local
	closeAll := func() {
		for _, l := range nodes {
			_ = l.Close()
		}
	}
	for i := range n {
		oi := o
		oi.Cluster = &LocalCluster{NATS: nats, Node: fmt.Sprintf("node%d", i+1)}
		if o.Dir != "" {
			oi.Dir = filepath.Join(o.Dir, oi.Cluster.Node)
		}
		if i > 0 {
			oi.shared = nodes[0]
		}
		l, err := StartLocal(ctx, oi)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("interop: cluster node %d: %w", i+1, err)
		}
		nodes = append(nodes, l)
	}
	return nodes, nil
}

// ClusterDeployment is the deployment the harness sees of a cluster's
// nodes: every node's WebSocket URL (each scenario puts its browser
// parties on two different nodes), the first node's SIP and XMPP sides,
// and SIP callers sending to sipGateway (the dispatcher in front of the
// nodes, "sip:host:port") when it is not empty. The third-party SIP
// clients register at the first node (JsSIP over its SIP WebSocket,
// baresip with it as outbound proxy: SIPDeployment.Proxy): a browser user
// on another node reaches them through the cluster's registry.
func ClusterDeployment(nodes []*Local, sipGateway string) Deployment {
	dep := nodes[0].Deployment
	dep.WSNodes = nil
	var names []string
	for _, l := range nodes {
		dep.WSNodes = append(dep.WSNodes, l.WS)
		names = append(names, strings.TrimPrefix(l.WS, "ws://"))
	}
	dep.Name = "local sigbridge cluster " + strings.Join(names, " ")
	if dep.SIP != nil && sipGateway != "" {
		sd := *dep.SIP
		sd.Proxy, sd.Gateway = sd.Gateway, sipGateway
		dep.SIP = &sd
	}
	return dep
}

// SIPAddr is the gateway's SIP address (host:port, UDP and TCP), or "".
func (l *Local) SIPAddr() string {
	if l.SIP == nil {
		return ""
	}
	return strings.TrimPrefix(l.SIP.Gateway, "sip:")
}
