package main

import (
	"errors"
	"testing"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/natstest"
)

// TestClusterEdgeKeepsSIPEgress: on a cluster node the sip: dialer is the
// cluster's, and it still offers the SIP adapter's egress policy to the
// XMPP adapter's proposal check: a target no route allows is refused.
func TestClusterEdgeKeepsSIPEgress(t *testing.T) {
	ns := natstest.Start(t)
	cfg := clusterTestConfig(ns.URL(), "n1")
	cfg.SIP.Listen = "127.0.0.1:0"
	s := startNode(t, cfg)
	tg, d, err := s.gw.Router().Resolve("alice", "sip:bob@pbx.example.org")
	if err != nil {
		t.Fatal(err)
	}
	c, ok := d.(interface {
		CheckEgress(string, gateway.Target) error
	})
	if !ok {
		t.Fatalf("the sip: dialer %T has no CheckEgress", d)
	}
	if err := c.CheckEgress("alice", tg); !errors.Is(err, gateway.ErrForbidden) {
		t.Errorf("CheckEgress without routes: %v, want forbidden", err)
	}
}
