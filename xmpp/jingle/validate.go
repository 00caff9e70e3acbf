package jingle

import (
	"fmt"
	"strings"
)

// Checks on Jingle strings before they become space-separated SDP fields:
// a value that would change how the SDP line splits is refused (ErrBadJingle)
// rather than written. Control characters are refused everywhere
// (checkSDPText), so no CR/LF can reach the SDP.

// sdpToken checks a field that must be one SDP token without the extra
// separator characters in forbid.
func sdpToken(s, what, forbid string) error {
	if !isToken(s, MaxSDPLineLength/4) || strings.ContainsAny(s, forbid) {
		return fmt.Errorf("%w: bad %s %q", ErrBadJingle, what, clip(s))
	}
	return nil
}

// optToken is sdpToken for an optional field.
func optToken(s, what, forbid string) error {
	if s == "" {
		return nil
	}
	return sdpToken(s, what, forbid)
}

func checkDescriptionText(d *Description) error {
	for _, p := range d.PayloadTypes {
		if err := checkPayloadText(&p); err != nil {
			return err
		}
	}
	if err := checkFeedbackText(d.RTCPFeedback); err != nil {
		return err
	}
	for _, h := range d.HeaderExtensions {
		if err := sdpToken(h.URI, "rtp-hdrext uri", ""); err != nil {
			return err
		}
		if err := checkBareParams(h.Parameters, "rtp-hdrext parameter"); err != nil {
			return err
		}
	}
	if err := checkSourceText(d); err != nil {
		return err
	}
	return checkCryptoText(d.Encryption)
}

func checkPayloadText(p *PayloadType) error {
	if err := optToken(p.Name, "payload-type name", "/"); err != nil {
		return err
	}
	for _, prm := range p.Parameters {
		if err := optToken(prm.Name, "parameter name", ";="); err != nil {
			return err
		}
		if err := optToken(prm.Value, "parameter value", ";"); err != nil {
			return err
		}
	}
	return checkFeedbackText(p.RTCPFeedback)
}

func checkFeedbackText(fbs []RTCPFeedback) error {
	for _, fb := range fbs {
		if err := sdpToken(fb.Type, "rtcp-fb type", ""); err != nil {
			return err
		}
		if err := optToken(fb.Subtype, "rtcp-fb subtype", ""); err != nil {
			return err
		}
		if err := checkBareParams(fb.Parameters, "rtcp-fb parameter"); err != nil {
			return err
		}
	}
	return nil
}

// checkBareParams checks parameters written as "name[=value]" tokens.
func checkBareParams(ps []Parameter, what string) error {
	for _, p := range ps {
		if err := optToken(p.Name, what, "="); err != nil {
			return err
		}
		if err := optToken(p.Value, what, ""); err != nil {
			return err
		}
	}
	return nil
}

// checkSourceText: "a=ssrc:<ssrc> <name>:<value>" where the value may hold
// spaces (msid) but the name may not, nor be empty.
func checkSourceText(d *Description) error {
	for _, s := range d.Sources {
		for _, p := range s.Parameters {
			if err := sdpToken(p.Name, "source parameter name", ":"); err != nil {
				return err
			}
		}
	}
	for _, g := range d.SSRCGroups {
		if err := sdpToken(g.Semantics, "ssrc-group semantics", ""); err != nil {
			return err
		}
	}
	return nil
}

func checkCryptoText(e *Encryption) error {
	if e == nil {
		return nil
	}
	for _, c := range e.Crypto {
		for _, f := range []string{c.Tag, c.CryptoSuite, c.KeyParams} {
			if err := sdpToken(f, "crypto field", ""); err != nil {
				return err
			}
		}
	}
	return nil
}
