package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/sigbridge/sigbridge/xmpp/jingle"
)

// maxSDPInput caps what sdp2jingle reads from stdin.
const maxSDPInput = 256 << 10

// jingleFlags are the flags shared by sdp2jingle and jingle2sdp.
type jingleFlags struct {
	role     jingle.Role
	dropMDNS bool
	action   string
	sid      string
}

// parseJingleFlags parses args with a local FlagSet; a usage error has
// already been reported on errOut.
func parseJingleFlags(name string, args []string, errOut io.Writer, actionHelp, sidHelp string) (jingleFlags, error) {
	var f jingleFlags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(errOut)
	role := fs.String("role", "initiator", "who wrote the input: initiator or responder")
	fs.BoolVar(&f.dropMDNS, "drop-mdns", false, "drop mDNS (.local) host candidates")
	fs.StringVar(&f.action, "action", "", actionHelp)
	fs.StringVar(&f.sid, "sid", "", sidHelp)
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(errOut, "%s: unexpected argument %q (input is read from stdin)\n", name, fs.Arg(0))
		return f, errors.New("usage")
	}
	r, ok := jingle.ParseRole(*role)
	if !ok {
		fmt.Fprintf(errOut, "%s: -role must be initiator or responder, not %q\n", name, *role)
		return f, errors.New("usage")
	}
	f.role = r
	return f, nil
}

// runSDP2Jingle reads an SDP on in and writes the <jingle/> element on out.
// Exit status: 0 done, 1 bad input, 2 usage error.
func runSDP2Jingle(args []string, in io.Reader, out, errOut io.Writer) int {
	f, err := parseJingleFlags("sdp2jingle", args, errOut,
		"jingle action (default session-initiate, or session-accept with -role responder)",
		"jingle session id (default \"sigbridge\")")
	if err != nil {
		return 2
	}
	raw, err := readCapped(in, maxSDPInput)
	if err != nil {
		fmt.Fprintf(errOut, "sdp2jingle: %v\n", err)
		return 1
	}
	x, err := sdpToJingleXML(raw, f)
	if err != nil {
		fmt.Fprintf(errOut, "sdp2jingle: %v\n", err)
		return 1
	}
	if _, err := out.Write(x); err != nil {
		fmt.Fprintf(errOut, "sdp2jingle: %v\n", err)
		return 1
	}
	return 0
}

func sdpToJingleXML(raw []byte, f jingleFlags) ([]byte, error) {
	text := normalizeSDP(raw)
	lines := strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n")
	if err := checkSDPLines(lines); err != nil {
		return nil, err
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal([]byte(text)); err != nil {
		return nil, locate(lines, err, pionNeedle(err))
	}
	j, err := jingle.SDPToJingle(&sd, f.role, jingle.SDPToJingleOptions{DropMDNS: f.dropMDNS})
	if err != nil {
		var se *jingle.SDPError
		if errors.As(err, &se) {
			return nil, locate(lines, err, se.Line)
		}
		return nil, err
	}
	j.Action, j.SID = jingle.Action(f.action), orDefault(f.sid, "sigbridge")
	if j.Action == "" {
		j.Action = defaultAction(f.role)
	}
	x, err := xml.MarshalIndent(j, "", "  ")
	return append(x, '\n'), err
}

func defaultAction(r jingle.Role) jingle.Action {
	if r == jingle.Responder {
		return jingle.ActionSessionAccept
	}
	return jingle.ActionSessionInitiate
}

// normalizeSDP turns LF or CRLF input into CRLF lines.
func normalizeSDP(raw []byte) string {
	s := strings.ReplaceAll(string(raw), "\r\n", "\n")
	s = strings.TrimRight(s, "\n")
	return strings.ReplaceAll(s, "\n", "\r\n") + "\r\n"
}

// checkSDPLines reports the first line that is not "<letter>=..." or is
// longer than the jingle package accepts, with its 1-based number.
func checkSDPLines(lines []string) error {
	for i, l := range lines {
		switch {
		case len(l) > jingle.MaxSDPLineLength:
			return fmt.Errorf("line %d: longer than %d bytes", i+1, jingle.MaxSDPLineLength)
		case len(l) < 2 || l[1] != '=' || l[0] < 'a' || l[0] > 'z':
			return fmt.Errorf("line %d: %q is not an SDP line (want x=...)", i+1, clipText(l))
		}
	}
	return nil
}

// pionNeedle extracts the `value` pion quotes in its syntax errors.
func pionNeedle(err error) string {
	msg := err.Error()
	i := strings.IndexByte(msg, '`')
	j := strings.LastIndexByte(msg, '`')
	if i < 0 || j <= i+1 {
		return ""
	}
	return msg[i+1 : j]
}

// locate prefixes err with the number of the first line containing needle.
func locate(lines []string, err error, needle string) error {
	if needle != "" {
		for i, l := range lines {
			if l == needle || strings.Contains(l, needle) {
				return fmt.Errorf("line %d: %w", i+1, err)
			}
		}
	}
	return err
}

// runJingle2SDP reads a <jingle/> element on in and writes the SDP on out.
// -action and -sid, when given, must match the stanza. Exit status: 0 done,
// 1 bad input, 2 usage error.
func runJingle2SDP(args []string, in io.Reader, out, errOut io.Writer) int {
	f, err := parseJingleFlags("jingle2sdp", args, errOut,
		"if set, the jingle action must be this", "if set, the jingle sid must be this")
	if err != nil {
		return 2
	}
	s, err := jingleToSDPText(in, f)
	if err != nil {
		fmt.Fprintf(errOut, "jingle2sdp: %v\n", err)
		return 1
	}
	if _, err := io.WriteString(out, s); err != nil {
		fmt.Fprintf(errOut, "jingle2sdp: %v\n", err)
		return 1
	}
	return 0
}

func jingleToSDPText(in io.Reader, f jingleFlags) (string, error) {
	j, err := jingle.ParseReader(in)
	if err != nil {
		return "", err
	}
	if f.action != "" && string(j.Action) != f.action {
		return "", fmt.Errorf("<jingle action=%q>: want action %q", clipText(string(j.Action)), f.action)
	}
	if f.sid != "" && j.SID != f.sid {
		return "", fmt.Errorf("<jingle sid=%q>: want sid %q", clipText(j.SID), f.sid)
	}
	sd, err := jingle.JingleToSDP(j, f.role, jingle.JingleToSDPOptions{DropMDNS: f.dropMDNS})
	if err != nil {
		return "", err
	}
	b, err := sd.Marshal()
	return string(b), err
}

// readCapped reads all of r, failing beyond max bytes.
func readCapped(r io.Reader, max int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if n > max {
		return nil, fmt.Errorf("input over %d bytes", max)
	}
	return buf.Bytes(), nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func clipText(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
