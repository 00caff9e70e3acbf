package main

import (
	"context"

	"github.com/sigbridge/sigbridge/cluster"
	"github.com/sigbridge/sigbridge/gateway"
)

// The adapters at the edge of a cluster (sip/README.md and xmpp/README.md,
// "Clusters"): SIP registrations are shared through the registry, and the
// XMPP component runs on one node at a time.

// clusterEdge, with a cluster, rings sip: calls to registrar users on
// every node that holds bindings of theirs (one other node: a remote leg;
// several: a fork across them), and xmpp: calls to the node
// holding the XMPP stream. Without one it does nothing.
func (s *server) clusterEdge() {
	if s.node == nil {
		return
	}
	if s.sip != nil {
		locate := s.node.ShareSIPBindings(context.Background(), s.sip)
		s.gw.Router().Handle(gateway.SchemeSIP,
			egressDialer{s.node.ForkDialer(gateway.SchemeSIP, s.sip, locate), s.sip})
	}
	if s.xmpp != nil {
		locate := s.node.LeaderLocator(cluster.KindXMPPComponent, s.xmpp.Address().String())
		s.gw.Router().Handle(gateway.SchemeXMPP, s.node.RemoteDialer(gateway.SchemeXMPP, s.xmpp, locate))
		s.shareXMPPDevices()
	}
}

// shareXMPPDevices mirrors the XMPP adapter's devices table (devices
// without JMI, subscriptions) into the cluster's state store, so that the
// node taking the component over knows them (xmpp/README.md "Clusters").
func (s *server) shareXMPPDevices() {
	store, err := s.node.StateStore(xmppDevicesStore, cluster.StateConfig{MaxValue: 16 << 10, MaxEntries: 4096})
	if err != nil { // a constant name: cannot happen
		s.log.Error("xmpp devices not shared", "err", err)
		return
	}
	s.xmpp.SetDeviceStore(store, store.TTL()/3)
}

// xmppDevicesStore names the state store of the XMPP devices table (the
// bucket "<prefix>-state-xmpp-devices").
const xmppDevicesStore = "xmpp-devices"

// runXMPP runs the XMPP adapter until ctx ends. In a cluster it runs only
// on the node that holds the lease on its address (the component domain,
// or in client mode the account's bare JID, whose calls would otherwise
// reach every node's login): the others campaign, and one takes over
// within the node timeout when the holder dies.
func (s *server) runXMPP(ctx context.Context) error {
	if s.node == nil {
		return s.xmpp.Run(ctx)
	}
	s.node.Lead(ctx, cluster.KindXMPPComponent, s.xmpp.Address().String(), func(lctx context.Context) {
		if err := s.xmpp.Run(lctx); err != nil {
			s.log.Error("xmpp adapter stopped", "err", err)
		}
	})
	return nil
}

// egressDialer keeps the SIP adapter's egress policy visible on the
// cluster's dialer: the XMPP adapter asks the router's dialer for it
// (CheckEgress) to refuse a proposal before it answers proceed.
type egressDialer struct {
	gateway.Dialer
	egress interface {
		CheckEgress(from string, t gateway.Target) error
	}
}

func (d egressDialer) CheckEgress(from string, t gateway.Target) error {
	return d.egress.CheckEgress(from, t)
}
