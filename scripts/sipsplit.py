#!/usr/bin/env python3
"""Split call setup into its hops at the wire, from a capture of a load step.

    sipsplit.py CAPTURE.pcap [--ws-port PORT] [--gctrace GATEWAY.LOG --start EPOCH] [--slow MS]

CAPTURE is a classic pcap file of the step's SIP traffic (UDP), e.g.
`tcpdump -i lo -s 1000 -w CAPTURE 'udp port 18001'`. For every Call-ID it
takes the first INVITE, the first 2xx to it and the first ACK, by their
capture times, and prints the distribution of

  INVITE -> 2xx  the callee's share of the setup (in a browser -> SIP step:
                 SIPp answering; in a SIP -> browser step: the gateway and
                 the browser callee)
  2xx -> ACK     the caller's reaction to the answer (browser -> SIP: the
                 gateway reading the 2xx and ACKing it; SIP -> browser:
                 SIPp)

with the share of calls over --slow ms (5 by default, the issue's p99
bound). All times are wire times on one clock (the capture's), so they
hold whatever each process waited for a CPU.

With --ws-port, the gateway's WebSocket port, the capture holds the
browser side of a browser -> SIP step too (`... 'udp port 18001 or tcp
port 18000'`, -s 1000: the start of each frame is enough) and each call is
split into its five hops:

  offer -> end-of-candidates   the caller (the load tool) sending its offer,
                               three candidates and end-of-candidates
  end-of-candidates -> INVITE  the gateway: a SIP leg without trickle gets
                               its INVITE once the candidates are in
  INVITE -> 2xx                the SIP callee (SIPp)
  2xx -> video-answer          the gateway: the answer on its way back
  offer -> video-answer        the whole setup at the wire

A caller's frames are unmasked (RFC 6455 §5.3); its login (`username`)
names the connection, and a call's INVITE is the next one whose From user
is that name (calls of one user are matched in order).

With --gctrace, the gateway's log holding its GODEBUG=gctrace=1 lines
("gc N @T s ..."), and --start, the gateway's start time in seconds since
the epoch (the @T offsets are from it), it also prints how the slow 2xx ->
ACK times fall relative to the start of the gateway's last GC cycle: in
10 ms bins up to 300 ms after it, and after that; with --ws-port also the
whole setups (offer -> video-answer) by where their offer fell, in 25 ms
bins, and the slow share in the first 125 ms after a GC start against the
rest (docs/PERFORMANCE.md, "The setup tail at 1,500/s and the collector's
mark phase").

Only the Python standard library; scripts/load.sh runs it for SIP_SPLIT=1.
"""

import argparse
import bisect
import collections
import re
import struct
import sys

LINK_HEADER = {0: 4, 1: 14, 113: 16, 276: 20}  # NULL, Ethernet, Linux cooked v1, v2


def packets(path):
    """Yields (time, protocol, source port, destination port, payload) of
    each IPv4 UDP packet and TCP segment with data in the capture."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            order = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            order = ">"
        else:
            sys.exit("sipsplit: %s is not a classic pcap file" % path)
        scale = 1e9 if magic in (0xA1B23C4D, 0x4D3CB2A1) else 1e6
        link = struct.unpack(order + "I", head[20:24])[0]
        if link not in LINK_HEADER:
            sys.exit("sipsplit: link type %d not handled" % link)
        skip = LINK_HEADER[link]
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _ = struct.unpack(order + "IIII", rec)
            data = f.read(incl)
            ip = data[skip:]
            if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] not in (6, 17):
                continue
            l4 = ip[(ip[0] & 15) * 4:]
            if len(l4) < 8:
                continue
            sport, dport = struct.unpack(">HH", l4[:4])
            if ip[9] == 17:
                yield sec + frac / scale, "udp", sport, dport, l4[8:]
            elif len(l4) >= 20 and len(l4) > (l4[12] >> 4) * 4:
                yield sec + frac / scale, "tcp", sport, dport, l4[(l4[12] >> 4) * 4:]


def sip_event(payload):
    """Returns (Call-ID, kind, From user) of a SIP message: kind is INVITE,
    ACK, 2xx (a 2xx to an INVITE) or None for anything else."""
    text = payload.decode("latin-1")
    lines = text.split("\r\n")
    first = lines[0].split(" ")
    if len(first) < 2:
        return None, None, None
    call_id = method = user = None
    for line in lines[1:]:
        if not line:
            break
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name in ("call-id", "i"):
            call_id = value.strip()
        elif name == "cseq":
            parts = value.split()
            method = parts[-1] if parts else None
        elif name in ("from", "f"):
            m = FROM_USER.search(value)
            user = m.group(1) if m else None
    if call_id is None:
        return None, None, None
    if first[0] == "SIP/2.0":
        if first[1].startswith("2") and method == "INVITE":
            return call_id, "2xx", user
        return call_id, None, user
    if first[0] in ("INVITE", "ACK"):
        return call_id, first[0], user
    return call_id, None, user


FROM_USER = re.compile(r"sips?:([^@;>]+)@")
WS_TYPE = re.compile(rb'"type":"([a-z-]+)"')
WS_CALL = re.compile(rb'"callId":"([^"]*)"')
WS_NAME = re.compile(rb'"name":"([^"]*)"')


def ws_frames(data):
    """Yields the start (up to 300 bytes, unmasked) of each WebSocket frame
    that begins in a TCP segment's data, the first frame at its start."""
    i = 0
    while i + 2 <= len(data):
        masked, n, j = data[i + 1] & 128, data[i + 1] & 127, i + 2
        if n == 126:
            if j + 2 > len(data):
                return
            n, j = struct.unpack(">H", data[j:j + 2])[0], j + 2
        elif n == 127:
            if j + 8 > len(data):
                return
            n, j = struct.unpack(">Q", data[j:j + 8])[0], j + 8
        key = None
        if masked:
            key, j = data[j:j + 4], j + 4
        head = data[j:j + min(n, 300)]
        if key and len(key) == 4:
            head = bytes(c ^ key[k % 4] for k, c in enumerate(head))
        yield head
        i = j + n


def quantile(values, q):
    return values[min(len(values) - 1, int(len(values) * q))]


def describe(name, values, slow, width=14):
    if not values:
        print("%-*s no calls" % (width, name))
        return
    v = sorted(values)
    over = sum(1 for x in v if x > slow)
    print("%-*s %d calls, ms: p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.1f; over %g ms: %d (%.2f %%)" % (
        width, name, len(v), quantile(v, 0.5) * 1e3, quantile(v, 0.9) * 1e3, quantile(v, 0.99) * 1e3,
        quantile(v, 0.999) * 1e3, v[-1] * 1e3, slow * 1e3, over, 100.0 * over / len(v)))


def gc_starts(path, start):
    """The start times (epoch seconds) of the GC cycles in a gctrace log."""
    pat = re.compile(r"gc \d+ @([0-9.]+)s ")
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = pat.search(line)
            if m:
                out.append(start + float(m.group(1)))
    return out


def bin_by_gc(events, starts, slow, width_ms):
    """Counts (time, duration) events by where their time fell after the
    last GC start, in bins of width_ms up to 300 ms (then one bin), all and
    those slower than slow."""
    slow_bins, all_bins = collections.Counter(), collections.Counter()
    for at, d in events:
        i = bisect.bisect_right(starts, at) - 1
        if i < 0:
            continue
        after = at - starts[i]
        b = int(after * 1000 / width_ms) * width_ms if after < 0.3 else 300
        all_bins[b] += 1
        if d > slow:
            slow_bins[b] += 1
    return slow_bins, all_bins


def print_bins(slow_bins, all_bins, width_ms):
    for b in sorted(all_bins):
        label = "%3d-%3d ms" % (b, b + width_ms) if b < 300 else "  >= 300 ms"
        print("  %s: %5d slow of %6d" % (label, slow_bins[b], all_bins[b]))


def by_gc_setups(setups, starts, slow):
    """Prints how many whole setups (offer -> video-answer) were slow by
    where their offer fell after a GC start, in 25 ms bins, and the share in
    the first 125 ms after a start against the rest."""
    slow_bins, all_bins = bin_by_gc(setups, starts, slow, 25)
    print("slow offer -> video-answer by the time since the gateway's last GC start (%d GC cycles):" % len(starts))
    print_bins(slow_bins, all_bins, 25)
    for name, inside in (("first 125 ms", True), ("the rest", False)):
        n = sum(v for b, v in all_bins.items() if (b < 125) == inside)
        k = sum(v for b, v in slow_bins.items() if (b < 125) == inside)
        print("  %s after a GC start: %d slow of %d (%.2f %%)" % (name, k, n, 100.0 * k / max(n, 1)))


def by_gc(acks, starts, slow):
    """Prints slow 2xx -> ACK times by where their 2xx fell after a GC start."""
    slow_bins, all_bins = bin_by_gc(acks, starts, slow, 10)
    total = sum(slow_bins.values())
    print("slow 2xx -> ACK by the time since the gateway's last GC start (%d GC cycles, %d slow):" % (len(starts), total))
    print_bins(slow_bins, all_bins, 10)


class Calls:
    """What the capture says about each call."""

    def __init__(self):
        self.sip = collections.defaultdict(dict)  # Call-ID -> INVITE/2xx/ACK times
        self.invites = collections.defaultdict(list)  # From user -> Call-IDs in INVITE order
        self.ws = collections.defaultdict(dict)  # browser callId -> offer/eoc/answer times, user
        self.names = {}  # caller's source port -> its login name
        self.setups = []  # (offer time, offer -> video-answer) of each matched call (hops)

    def add_sip(self, t, payload):
        call_id, kind, user = sip_event(payload)
        if kind is None or kind in self.sip[call_id]:
            return
        self.sip[call_id][kind] = t
        if kind == "INVITE":
            self.invites[user].append(call_id)

    def add_ws(self, t, sport, data, from_caller):
        for head in ws_frames(data):
            m = WS_TYPE.search(head)
            if not m:
                continue
            kind = m.group(1)
            if kind == b"username" and from_caller:
                n = WS_NAME.search(head)
                if n:
                    self.names[sport] = n.group(1).decode("latin-1")
                continue
            c = WS_CALL.search(head)
            if not c:
                continue
            call = self.ws[c.group(1)]
            if from_caller:
                call.setdefault("user", self.names.get(sport))
                if kind == b"video-offer":
                    call.setdefault("offer", t)
                elif kind == b"end-of-candidates":
                    call.setdefault("eoc", t)
            elif kind == b"video-answer":
                call.setdefault("answer", t)

    def hops(self):
        """The five hops of each browser call matched to its INVITE."""
        by_user = collections.defaultdict(list)
        for call in self.ws.values():
            if {"offer", "eoc", "answer"} <= call.keys():
                by_user[call["user"]].append(call)
        out = collections.defaultdict(list)
        for user, calls in by_user.items():
            calls.sort(key=lambda c: c["eoc"])
            for call, call_id in zip(calls, self.invites.get(user, [])):
                s = self.sip[call_id]
                if "2xx" not in s or s["INVITE"] < call["eoc"]:
                    continue  # out of order: not counted
                out["offer -> end-of-candidates"].append(call["eoc"] - call["offer"])
                out["end-of-candidates -> INVITE"].append(s["INVITE"] - call["eoc"])
                out["INVITE -> 2xx"].append(s["2xx"] - s["INVITE"])
                out["2xx -> video-answer"].append(call["answer"] - s["2xx"])
                out["offer -> video-answer"].append(call["answer"] - call["offer"])
                self.setups.append((call["offer"], call["answer"] - call["offer"]))
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("capture")
    ap.add_argument("--ws-port", type=int, help="the gateway's WebSocket port, captured too")
    ap.add_argument("--gctrace", help="the gateway's log with GODEBUG=gctrace=1 lines")
    ap.add_argument("--start", type=float, help="the gateway's start, seconds since the epoch")
    ap.add_argument("--slow", type=float, default=5.0, help="ms over which a time counts as slow [5]")
    a = ap.parse_args()
    slow = a.slow / 1e3
    calls = Calls()
    for t, proto, sport, dport, payload in packets(a.capture):
        if proto == "udp":
            calls.add_sip(t, payload)
        elif a.ws_port and a.ws_port in (sport, dport):
            calls.add_ws(t, sport, payload, dport == a.ws_port)
    answer = [ev["2xx"] - ev["INVITE"] for ev in calls.sip.values() if "INVITE" in ev and "2xx" in ev]
    acks = [(ev["2xx"], ev["ACK"] - ev["2xx"]) for ev in calls.sip.values() if "2xx" in ev and "ACK" in ev]
    describe("INVITE -> 2xx", answer, slow)
    describe("2xx -> ACK", [d for _, d in acks], slow)
    if a.ws_port:
        hops = calls.hops()
        n = len(hops["offer -> video-answer"])
        print("browser calls matched to their INVITE: %d of %d" % (n, len(calls.ws)))
        for name, values in hops.items():
            describe(name, values, slow, 28)
    if a.gctrace:
        if a.start is None:
            sys.exit("sipsplit: --gctrace needs --start")
        starts = gc_starts(a.gctrace, a.start)
        by_gc(acks, starts, slow)
        if a.ws_port:
            by_gc_setups(calls.setups, starts, slow)


if __name__ == "__main__":
    main()
