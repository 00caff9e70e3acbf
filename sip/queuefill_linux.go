//go:build linux

package sip

import (
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// queueFillEvery spaces the checks of the UDP receive queue's fill, per
// reader: one getsockopt a millisecond, whatever the datagram rate.
const queueFillEvery = time.Millisecond

// queueFill watches how full the socket's receive queue is. The queue's
// delay (stale.go) says how late the readers are, but the kernel bounds
// the queue by bytes (udp_read_buffer), not by time: when datagrams arrive
// faster than the readers take them, a full buffer drops them (INVITEs,
// ACKs, BYEs, responses alike) while the oldest has waited less than the
// shed age, so shedding on delay alone came too late. At 2× capacity SIP
// → browser (10,000 INVITEs/s) the gateway's 4 MiB queue sat full and the
// kernel dropped 320,000 datagrams in 30 s while no datagram ever waited
// 250 ms. So a queue over half its buffer sheds new calls at once too (no
// sustain: unlike a single stall, a queue that full is about to lose what
// it cannot hold). The socket's drop counter is not a signal: datagrams
// with a bad checksum count there too, and a stranger could send a few a
// second to keep us shedding; an overflow leaves the queue full, which is.
type queueFill struct {
	raw  syscall.RawConn
	next int64 // unix nanos of the next check

	m    meminfo       // the last reading
	read func(uintptr) // m.read, made once: a closure and its captures per check allocated three times
}

// over reports, at most once per queueFillEvery, whether the queue holds
// more than half its buffer. A failed check (never seen on Linux 4.6 and
// later) reports false.
func (q *queueFill) over(now time.Time) bool {
	if q.raw == nil || now.UnixNano() < q.next {
		return false
	}
	q.next = now.UnixNano() + int64(queueFillEvery)
	if q.read == nil {
		q.read = q.m.read
	}
	q.m.errno = 0
	err := q.raw.Control(q.read)
	return err == nil && q.m.errno == 0 && halfFull(q.m.info)
}

// halfFull reports whether SO_MEMINFO's figures show more bytes queued
// than half the receive buffer.
func halfFull(info [unix.SK_MEMINFO_VARS]uint32) bool {
	return uint64(info[unix.SK_MEMINFO_RMEM_ALLOC])*2 > uint64(info[unix.SK_MEMINFO_RCVBUF])
}

// meminfo is one SO_MEMINFO reading: the bytes queued for reading and
// the receive buffer's size among others, and the getsockopt's errno.
type meminfo struct {
	info  [unix.SK_MEMINFO_VARS]uint32
	errno syscall.Errno
}

// read reads SO_MEMINFO of fd into m; a syscall.RawConn's Control
// callback.
func (m *meminfo) read(fd uintptr) {
	l := uint32(unsafe.Sizeof(m.info))
	_, _, m.errno = syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&m.info[0])), uintptr(unsafe.Pointer(&l)), 0)
}

// sockMeminfo reads SO_MEMINFO once (tests; queueFill reuses its own).
func sockMeminfo(raw syscall.RawConn) (info [unix.SK_MEMINFO_VARS]uint32, ok bool) {
	var m meminfo
	err := raw.Control(m.read)
	return m.info, err == nil && m.errno == 0
}
