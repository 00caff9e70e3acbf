package xmpptest

import (
	"context"
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
)

// Mid-call changes of a Call, the way Conversations and Dino do them:
//
//   - Hold/Unhold send session-info <hold/>/<unhold/> (media untouched);
//   - ContentModify asks for other senders on a content;
//   - RestartICE restarts ICE Conversations style: a transport-info with
//     the new ufrag/pwd and no candidates (the offer); the candidates of the
//     new generation follow once it is acknowledged; the remote's first
//     transport-info with new credentials and candidates is the answer;
//   - a remote restart offer (new credentials, no candidates) is answered
//     the same way: new local credentials travel with our candidates.
//
// Everything the remote sends in the session besides session-accept and
// session-terminate (session-info, content-*, transport-info) is recorded;
// WaitJingle takes it in order.

// record appends a received Jingle action to the call's log.
func (call *Call) record(j *jingle.Jingle) {
	call.rmu.Lock()
	defer call.rmu.Unlock()
	call.received = append(call.received, j)
	close(call.recvChanged)
	call.recvChanged = make(chan struct{})
}

// WaitJingle returns (and removes from the log) the first Jingle action
// received in this session (besides session-accept and session-terminate,
// which Call handles) that matches, waiting until ctx is done.
func (call *Call) WaitJingle(ctx context.Context, match func(*jingle.Jingle) bool) (*jingle.Jingle, error) {
	for {
		call.rmu.Lock()
		for i, j := range call.received {
			if match(j) {
				call.received = append(call.received[:i], call.received[i+1:]...)
				call.rmu.Unlock()
				return j, nil
			}
		}
		changed := call.recvChanged
		call.rmu.Unlock()
		select {
		case <-changed:
		case <-call.done:
			return nil, fmt.Errorf("xmpptest: session ended while waiting: %w", ErrTerminated)
		case <-ctx.Done():
			return nil, fmt.Errorf("xmpptest: waiting for a Jingle action: %w", ctx.Err())
		}
	}
}

// Received returns the actions recorded and not yet taken by WaitJingle.
func (call *Call) Received() []*jingle.Jingle {
	call.rmu.Lock()
	defer call.rmu.Unlock()
	return append([]*jingle.Jingle(nil), call.received...)
}

// IsInfo matches a session-info with the given payload (jingle.InfoHold...).
func IsInfo(kind string) func(*jingle.Jingle) bool {
	return func(j *jingle.Jingle) bool {
		return j.Action == jingle.ActionSessionInfo && j.Info != nil && j.Info.Kind() == kind
	}
}

// IsAction matches a Jingle action.
func IsAction(a jingle.Action) func(*jingle.Jingle) bool {
	return func(j *jingle.Jingle) bool { return j.Action == a }
}

// SendSessionInfo sends session-info with a payload (jingle.InfoHold,
// jingle.InfoUnhold, jingle.InfoMute...).
func (call *Call) SendSessionInfo(ctx context.Context, kind string) error {
	j := &jingle.Jingle{Action: jingle.ActionSessionInfo, SID: call.SID, Info: jingle.NewInfo(kind)}
	return call.Client.SendJingle(ctx, call.Remote, j)
}

// Hold sends session-info <hold/>.
func (call *Call) Hold(ctx context.Context) error { return call.SendSessionInfo(ctx, jingle.InfoHold) }

// Unhold sends session-info <unhold/>.
func (call *Call) Unhold(ctx context.Context) error {
	return call.SendSessionInfo(ctx, jingle.InfoUnhold)
}

// ContentModify sends content-modify asking for senders on every content.
func (call *Call) ContentModify(ctx context.Context, senders jingle.Senders) error {
	var cs []jingle.Content
	for _, sl := range call.mids.Slots() {
		if !sl.Rejected {
			cs = append(cs, jingle.Content{Creator: orDefault(sl.Creator, jingle.CreatorInitiator), Name: sl.Name, Senders: senders})
		}
	}
	j := &jingle.Jingle{Action: jingle.ActionContentModify, SID: call.SID, Contents: cs}
	return call.Client.SendJingle(ctx, call.Remote, j)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// RestartICE restarts ICE: a new local offer with new credentials, sent as
// transport-info without candidates; the new candidates follow once the
// remote acknowledged it. The remote's answer (its new credentials with
// candidates) is applied by the receive loop.
func (call *Call) RestartICE(ctx context.Context) error {
	call.sigMu.Lock()
	defer call.sigMu.Unlock()
	offer, err := call.Media.PC.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err == nil {
		err = call.Media.PC.SetLocalDescription(offer)
	}
	if err != nil {
		return fmt.Errorf("xmpptest: ICE restart offer: %w", err)
	}
	ufrag, pwd := call.localCredentials()
	var cs []jingle.Content
	for _, sl := range call.mids.Slots() {
		if !sl.Rejected {
			cs = append(cs, jingle.Content{Creator: orDefault(sl.Creator, jingle.CreatorInitiator), Name: sl.Name,
				Transport: &jingle.Transport{Ufrag: ufrag, Pwd: pwd}})
		}
	}
	call.rmu.Lock()
	call.restarting = true
	call.rmu.Unlock()
	j := &jingle.Jingle{Action: jingle.ActionTransportInfo, SID: call.SID, Contents: cs}
	if err := call.Client.SendJingle(ctx, call.Remote, j); err != nil {
		call.rmu.Lock()
		call.restarting = false
		call.rmu.Unlock()
		return fmt.Errorf("xmpptest: ICE restart: %w", err)
	}
	return nil
}

// AnswerRestarts sets whether a restart offer of the remote (new
// credentials without candidates) is answered (the default) or only
// recorded, for tests that answer by hand or let it cross their own.
func (call *Call) AnswerRestarts(on bool) {
	call.rmu.Lock()
	call.manualICE = !on
	call.rmu.Unlock()
}

// Restarting reports whether our ICE restart still waits for the answer.
func (call *Call) Restarting() bool {
	call.rmu.Lock()
	defer call.rmu.Unlock()
	return call.restarting
}

// checkRestart applies new remote ICE credentials in a transport-info: the
// answer to our restart (credentials with candidates while we restart), or
// a restart offer of the remote.
func (call *Call) checkRestart(j *jingle.Jingle) {
	ufrag, pwd, cands := "", "", false
	for _, c := range j.Contents {
		if c.Transport == nil {
			continue
		}
		cands = cands || len(c.Transport.Candidates) > 0
		if ufrag == "" && c.Transport.Ufrag != "" {
			ufrag, pwd = c.Transport.Ufrag, c.Transport.Pwd
		}
	}
	rd := call.Media.PC.RemoteDescription()
	if ufrag == "" || rd == nil || remoteUfrag(rd.SDP) == ufrag {
		return
	}
	call.rmu.Lock()
	answer := call.restarting && cands
	if answer {
		call.restarting = false
	}
	setup, manual := call.remoteSetup, call.manualICE
	call.rmu.Unlock()
	if !answer && manual {
		return
	}
	remote, err := withCredentials(rd.SDP, ufrag, pwd, setup)
	if err != nil {
		return
	}
	// Candidates are sent with the credentials of the local description:
	// hold them while it changes (pion gathers during SetLocalDescription).
	call.sigMu.Lock()
	defer call.sigMu.Unlock()
	if answer {
		_ = call.Media.SetAnswer(remote)
		return
	}
	// A restart offer: answer it; our new credentials go out with our
	// candidates.
	_, _ = call.Media.Answer(remote)
}

func remoteUfrag(s string) string {
	var sd sdp.SessionDescription
	if sd.UnmarshalString(s) != nil || len(sd.MediaDescriptions) == 0 {
		return ""
	}
	if v, ok := sd.MediaDescriptions[0].Attribute("ice-ufrag"); ok {
		return v
	}
	v, _ := sd.Attribute("ice-ufrag")
	return v
}

// withCredentials rewrites an SDP with new ICE credentials, without its
// candidates (they belong to the old generation), with the DTLS role setup
// (a restart keeps the established roles).
func withCredentials(s, ufrag, pwd, setup string) (string, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(s); err != nil {
		return "", err
	}
	sd.Attributes = rewrite(sd.Attributes, ufrag, pwd, setup)
	for _, m := range sd.MediaDescriptions {
		m.Attributes = rewrite(m.Attributes, ufrag, pwd, setup)
	}
	b, err := sd.Marshal()
	return string(b), err
}

func rewrite(attrs []sdp.Attribute, ufrag, pwd, setup string) []sdp.Attribute {
	out := attrs[:0]
	for _, a := range attrs {
		switch a.Key {
		case "candidate", "end-of-candidates":
			continue
		case "ice-ufrag":
			a.Value = ufrag
		case "ice-pwd":
			a.Value = pwd
		case "setup":
			if setup != "" {
				a.Value = setup
			}
		}
		out = append(out, a)
	}
	return out
}

// directions lists the a= direction of every m-line of an SDP (for tests).
func directions(s string) []string {
	var sd sdp.SessionDescription
	if sd.UnmarshalString(s) != nil {
		return nil
	}
	var out []string
	for _, m := range sd.MediaDescriptions {
		d := "sendrecv"
		for _, a := range m.Attributes {
			switch a.Key {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				d = a.Key
			}
		}
		out = append(out, d)
	}
	return out
}

// Directions returns the a= direction of every m-line of an SDP ("sendrecv"
// when none is written).
func Directions(s string) []string { return directions(s) }

// HasDirection reports whether every m-line of an SDP has direction d.
func HasDirection(s, d string) bool {
	ds := directions(s)
	if len(ds) == 0 {
		return false
	}
	for _, x := range ds {
		if !strings.EqualFold(x, d) {
			return false
		}
	}
	return true
}
