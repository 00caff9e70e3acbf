package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sigbridge/sigbridge/cluster"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/ws"
)

// nodeRegisterer labels every metric with the node's name when the
// gateway is one node of a cluster (so one Prometheus can scrape them
// all and sum or compare); a single process keeps its metrics unlabelled.
func nodeRegisterer(reg *prometheus.Registry, c cluster.Config) prometheus.Registerer {
	if !c.Enabled() {
		return reg
	}
	return prometheus.WrapRegistererWith(prometheus.Labels{"node": c.Node}, reg)
}

// joinCluster, with a cluster configured, starts the node (it connects in
// the background: /readyz says when), shares the browser directory
// through its registry and routes browser users on other nodes to remote
// legs. Without one it does nothing.
func (s *server) joinCluster() error {
	if !s.cfg.Cluster.Enabled() {
		return nil
	}
	node, err := cluster.Start(context.Background(), s.cfg.Cluster, s.log.With("component", "cluster"), s.registerer)
	if err != nil {
		return err
	}
	s.node = node
	node.SetAdmission(func() error { // dials from other nodes, as Gateway.Place
		if s.gw.Draining() {
			return gateway.ErrDraining
		}
		return s.gw.Shed("cluster")
	})
	s.ws.UseRegistry(userRegistry{node})
	node.OnLost(func(kind, key string) {
		if kind == cluster.KindUser {
			s.ws.NameLost(key)
		}
	})
	s.gw.Router().Handle(gateway.SchemeUser, node.RemoteDialer(gateway.SchemeUser, s.ws,
		node.RegistryLocator(cluster.KindUser, func(t gateway.Target) string { return t.User })))
	return nil
}

// clusterReady is false while a configured cluster's NATS is unreachable.
func (s *server) clusterReady() bool { return s.node == nil || s.node.Ready() }

// leaveCluster ends the calls that cross to other nodes and leaves.
func (s *server) leaveCluster() error {
	if s.node == nil {
		return nil
	}
	if err := s.node.Close(); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// userRegistry is the browser directory's view of the cluster registry.
type userRegistry struct{ n *cluster.Node }

func (r userRegistry) Claim(ctx context.Context, name string) error {
	err := r.n.Claim(ctx, cluster.KindUser, name)
	if err != nil && isTaken(err) {
		return fmt.Errorf("%w: %s is logged in on another node", ws.ErrNameInUse, name)
	}
	return err
}

func (r userRegistry) Release(name string) { r.n.Release(cluster.KindUser, name) }

func (r userRegistry) Watch(fn func(name string, online bool)) func() {
	self := r.n.Name()
	return r.n.Watch(cluster.KindUser, func(c cluster.Change) {
		if c.Node != self {
			fn(c.Key, c.Online)
		}
	})
}

func isTaken(err error) bool { return errors.Is(err, cluster.ErrTaken) }

// splitURLs reads --nats: comma-separated URLs.
func splitURLs(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}
