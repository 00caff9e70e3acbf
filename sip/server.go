package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"
)

// listen binds every configured transport; a.mu is held.
func (a *Adapter) listen(ctx context.Context) error {
	if err := a.listenUDPTCP(ctx); err != nil {
		return err
	}
	if a.cfg.TLSListen != "" {
		if err := a.listenTLS(ctx); err != nil {
			return err
		}
	}
	if a.cfg.WSListen != "" {
		return a.listenWS(ctx)
	}
	return nil
}

// listenUDPTCP binds UDP and TCP on the same port (with port 0, it retries
// until a port is free for both).
func (a *Adapter) listenUDPTCP(ctx context.Context) error {
	var lc net.ListenConfig
	for attempt := 0; ; attempt++ {
		pc, err := lc.ListenPacket(ctx, "udp", a.cfg.Listen)
		if err != nil {
			return fmt.Errorf("sip: listen udp %s: %w", a.cfg.Listen, err)
		}
		addr := pc.LocalAddr().String()
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			_ = pc.Close()
			if attempt < 20 && strings.HasSuffix(a.cfg.Listen, ":0") {
				continue
			}
			return fmt.Errorf("sip: listen tcp %s: %w", addr, err)
		}
		a.udpAddr, _ = netip.ParseAddrPort(addr)
		a.udpConn = listenerUDP(pc)
		a.addrs["udp"], a.addrs["tcp"] = addr, addr
		a.serveUDP(pc)
		fl := a.flowListener(ln, "TCP")
		a.serve(fl, func() error { return a.srv.ServeTCP(fl) })
		a.waitServing(ctx, addr)
		return nil
	}
}

// serveUDP sizes the UDP listener's buffers (udpsock.go) and starts
// Config.UDPReaders sipgo read loops on it, each behind its own stale
// INVITE filter (stale.go): the kernel hands every datagram to one of
// them, and each parses and dispatches what it read while the others read
// on. When the filters see the kernel's receive times, the queue's delay
// becomes one of the gateway's admission signals (socket_delay).
func (a *Adapter) serveUDP(pc net.PacketConn) {
	a.tuneUDP(pc)
	watched := false
	for range a.cfg.UDPReaders {
		spc := a.watchUDP(pc)
		watched = watched || spc != pc
		a.serve(pc, func() error { return a.srv.ServeUDP(spc) })
	}
	if watched && a.gw != nil {
		a.gw.AddOverloadSignal(signalSocketDelay, a.sockShed.active)
	}
}

// waitServing waits until sipgo's UDP transport knows our listening socket,
// so requests we send at once (REGISTER) can leave from it.
func (a *Adapter) waitServing(ctx context.Context, addr string) {
	for i := 0; i < 1000 && ctx.Err() == nil; i++ {
		if c, err := a.ua.TransportLayer().GetConnection("udp", addr); err == nil && c != nil {
			_, _ = c.TryClose()
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func (a *Adapter) listenTLS(ctx context.Context) error {
	cert, err := tls.LoadX509KeyPair(a.cfg.TLSCert, a.cfg.TLSKey)
	if err != nil {
		return fmt.Errorf("sip: tls certificate: %w", err)
	}
	var lc net.ListenConfig
	raw, err := lc.Listen(ctx, "tcp", a.cfg.TLSListen)
	if err != nil {
		return fmt.Errorf("sip: listen tls %s: %w", a.cfg.TLSListen, err)
	}
	ln := a.flowListener(tls.NewListener(raw, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), "TLS")
	a.addrs["tls"] = raw.Addr().String()
	a.serve(ln, func() error { return a.srv.ServeTLS(ln) })
	return nil
}

func (a *Adapter) listenWS(ctx context.Context) error {
	var lc net.ListenConfig
	raw, err := lc.Listen(ctx, "tcp", a.cfg.WSListen)
	if err != nil {
		return fmt.Errorf("sip: listen ws %s: %w", a.cfg.WSListen, err)
	}
	ln := a.flowListener(newWSPathListener(raw, a.cfg.WSPath, a.log), "WS")
	a.addrs["ws"] = raw.Addr().String()
	a.serve(ln, func() error { return a.srv.ServeWS(ln) })
	return nil
}

// flowListener wraps ln so that closed connections end their flows.
func (a *Adapter) flowListener(ln net.Listener, transport string) net.Listener {
	return &flowListener{Listener: ln, transport: transport, onClose: a.flowClosed}
}

// serve runs one sipgo serve loop until its listener closes.
func (a *Adapter) serve(c io.Closer, run func() error) {
	a.listeners = append(a.listeners, c)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := run(); err != nil && !errors.Is(err, net.ErrClosed) {
			a.log.Warn("sip listener stopped", "err", err)
		}
	}()
}

// closeListeners closes every listener; a.mu is held.
func (a *Adapter) closeListeners() {
	for _, c := range a.listeners {
		_ = c.Close()
	}
	a.listeners = nil
}
