package ws

import (
	"encoding/json"
	"time"
)

// Outbound messages, one struct per shape so that every field the MDN
// client reads is always present (an empty userlist is "users":[]).

type idMsg struct {
	Type       string      `json:"type"`
	ID         int64       `json:"id"`
	ICEServers []ICEServer `json:"iceServers,omitempty"`
}

type iceServersMsg struct {
	Type       string      `json:"type"`
	ICEServers []ICEServer `json:"iceServers"`
	TTL        int         `json:"ttl"`
}

type rejectUsernameMsg struct {
	Type string `json:"type"`
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type userlistMsg struct {
	Type  string   `json:"type"`
	Users []string `json:"users"`
}

// userEventMsg is user-joined or user-left (feature "user-events").
type userEventMsg struct {
	Type  string   `json:"type"`
	Users []string `json:"users"`
}

type chatMsg struct {
	Type string `json:"type"`
	Name string `json:"name"`
	Text string `json:"text"`
	ID   int64  `json:"id"`
	Date int64  `json:"date"`
}

// sdpJSON is an RTCSessionDescriptionInit.
type sdpJSON struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

type sdpMsg struct {
	Type   string  `json:"type"`
	Name   string  `json:"name"`
	Target string  `json:"target"`
	CallID string  `json:"callId,omitempty"`
	SDP    sdpJSON `json:"sdp"`
}

// candidateJSON is an RTCIceCandidateInit with both sdpMid and
// sdpMLineIndex always present (sdpMid null only when no mid is known).
type candidateJSON struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid"`
	SDPMLineIndex    int     `json:"sdpMLineIndex"`
	UsernameFragment string  `json:"usernameFragment,omitempty"`
}

type candidateMsg struct {
	Type      string        `json:"type"`
	Name      string        `json:"name"`
	Target    string        `json:"target"`
	CallID    string        `json:"callId,omitempty"`
	Candidate candidateJSON `json:"candidate"`
}

type endOfCandidatesMsg struct {
	Type   string  `json:"type"`
	Name   string  `json:"name"`
	Target string  `json:"target"`
	CallID string  `json:"callId,omitempty"`
	SDPMid *string `json:"sdpMid,omitempty"`
}

type ringingMsg struct {
	Type   string `json:"type"`
	Name   string `json:"name"`
	Target string `json:"target"`
	CallID string `json:"callId,omitempty"`
	Code   int    `json:"code"`
}

type hangupMsg struct {
	Type   string `json:"type"`
	Name   string `json:"name"`
	Target string `json:"target"`
	CallID string `json:"callId,omitempty"`
	Reason string `json:"reason,omitempty"`
	Code   int    `json:"code,omitempty"`
	Text   string `json:"text,omitempty"`
}

type errorMsg struct {
	Type   string `json:"type"`
	Code   int    `json:"code"`
	Reason string `json:"reason"`
	Text   string `json:"text,omitempty"`
	Ref    string `json:"ref,omitempty"`
	CallID string `json:"callId,omitempty"`
}

// encode renders an outbound message. The structs above cannot fail to
// marshal; a failure would be a programming error and yields nil.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

func nowMillis() int64 { return time.Now().UnixMilli() }
