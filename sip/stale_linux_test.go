package sip

import (
	"net"
	"testing"
	"time"
)

// waitKernelStamps waits until datagrams to pc (a socket with
// SO_TIMESTAMPNS, see stampPackets) are stamped when they are queued, not
// when they are read: the first socket asking for timestamps switches them
// on kernel-wide from a work queue, which a loaded box runs late. A probe
// read after a pause tells: its stamp is older than the read only once
// stamping is on. The probes are read here, so the caller's reads never
// see them.
func waitKernelStamps(t *testing.T, pc net.PacketConn) {
	t.Helper()
	uc := pc.(*net.UDPConn)
	out, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	buf, oob := make([]byte, 64), make([]byte, 128)
	for deadline := time.Now().Add(20 * time.Second); ; {
		if _, err := out.Write([]byte("probe")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		before := time.Now()
		_ = uc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, oobn, _, _, err := uc.ReadMsgUDP(buf, oob)
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		if at := receiveTime(oob[:oobn]); !at.IsZero() && at.Before(before) {
			_ = uc.SetReadDeadline(time.Time{})
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the kernel never stamped a datagram when it was queued")
		}
	}
}
