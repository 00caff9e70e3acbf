package load

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Options describe one load run. Zero values take the defaults of
// withDefaults; Validate reports what cannot work.
type Options struct {
	// WS is the browser-dialect WebSocket URL (ws://host:port/ws).
	WS string
	// Users is the number of logged-in caller users; their names come from
	// UserPattern with %d replaced by 0..Users-1. 0 with Answer: the run
	// only answers (SIP → browser, with SIPp as the caller).
	Users       int
	UserPattern string
	// Rate is the number of calls placed per second (open loop: a call is
	// due every 1/Rate s whatever the gateway does).
	Rate float64
	// Duration bounds the placing of calls; Calls bounds the number of
	// calls due (placed, or not placed when every user is at a limit).
	// With both, the first reached ends the run; with neither, Duration
	// is 10 s.
	Duration time.Duration
	Calls    int
	// Hold is how long an answered call stays up before the caller sends
	// hang-up.
	Hold time.Duration
	// Target is the callee address; %d is replaced by the caller user's
	// index (caller k calls target k): callee-%d, sip:uas@127.0.0.1:5080.
	Target string
	// Answer logs in the callee users named by Target (it must then be a
	// user-name pattern) and answers every call with a Chromium answer.
	Answer bool
	// AnswerUsers is the number of answering users when Users is 0.
	AnswerUsers int
	// Media picks the offer: "audio" (Chromium's audio-only offer, the
	// default) or "av" (audio, video and a data channel).
	Media string
	// MaxCallsPerUser is the gateway's gateway.max_calls_per_user: the tool
	// never has more calls in flight on one user (caller or callee).
	MaxCallsPerUser int
	// MsgRate and MsgBurst are the gateway's ws.rate_per_second and
	// ws.rate_burst: the tool places a call on a user only when the call's
	// messages fit that user's token bucket.
	MsgRate  float64
	MsgBurst float64
	// SetupTimeout bounds offer → answer; Drain bounds the wait for the
	// calls in flight once placing stops.
	SetupTimeout time.Duration
	Drain        time.Duration
	// TokenSecret mints an HS256 JWT per user (sub = the user name);
	// Token is a given token for a single user.
	TokenSecret   string
	TokenAudience string
	TokenIssuer   string
	Token         string
	// LoginRate spaces the logins (users per second; 0: as fast as 32
	// concurrent handshakes go).
	LoginRate float64
	// Origin is sent as the Origin header when set (the gateway allows
	// clients without one).
	Origin string
	// Progress is the interval of the progress line (default 1 s).
	Progress time.Duration
	// StartDelay is a pause between the last login and the first call
	// (memory measurements read the gateway with every user logged in and
	// no call yet).
	StartDelay time.Duration
	// OnReady, when set, is called once every user is logged in, before
	// the first call (the progress writer also gets a "logged in" line).
	OnReady func()
}

// Defaults.
const (
	DefaultUsers           = 10
	DefaultUserPattern     = "load-%d"
	DefaultRate            = 10
	DefaultDuration        = 10 * time.Second
	DefaultHold            = time.Second
	DefaultMaxCallsPerUser = 4
	DefaultMsgRate         = 20
	DefaultMsgBurst        = 40
	DefaultSetupTimeout    = 10 * time.Second
)

// Messages one call costs a caller (video-offer, three candidates,
// end-of-candidates, hang-up) and an answering callee (video-answer,
// three candidates, end-of-candidates).
const (
	callerMessages = 6
	calleeMessages = 5
)

func (o Options) withDefaults() Options {
	if o.UserPattern == "" {
		o.UserPattern = DefaultUserPattern
	}
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if o.Duration == 0 && o.Calls == 0 {
		o.Duration = DefaultDuration
	}
	if o.Hold == 0 {
		o.Hold = DefaultHold
	}
	if o.Media == "" {
		o.Media = "audio"
	}
	if o.MaxCallsPerUser == 0 {
		o.MaxCallsPerUser = DefaultMaxCallsPerUser
	}
	if o.MsgRate == 0 {
		o.MsgRate = DefaultMsgRate
	}
	if o.MsgBurst == 0 {
		o.MsgBurst = DefaultMsgBurst
	}
	if o.SetupTimeout == 0 {
		o.SetupTimeout = DefaultSetupTimeout
	}
	if o.Drain == 0 {
		o.Drain = o.SetupTimeout + o.Hold + 5*time.Second
	}
	if o.Progress == 0 {
		o.Progress = time.Second
	}
	return o
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	if !strings.HasPrefix(o.WS, "ws://") && !strings.HasPrefix(o.WS, "wss://") {
		errs = append(errs, errors.New("--ws must be a ws:// or wss:// URL"))
	}
	if o.Users < 0 || (o.Users == 0 && !o.Answer) {
		errs = append(errs, errors.New("--users must be at least 1 (0 only with --answer: answer-only run)"))
	}
	if o.Users == 0 && o.AnswerUsers <= 0 {
		errs = append(errs, errors.New("an answer-only run (--users 0) needs --answer-users"))
	}
	if o.Users > 0 && o.Target == "" {
		errs = append(errs, errors.New("--target is required"))
	}
	if o.Users > 0 && (o.Rate <= 0 || o.Rate > 100000) {
		errs = append(errs, errors.New("--rate must be in (0, 100000]"))
	}
	if o.Duration < 0 || o.Calls < 0 || o.Hold < 0 || o.SetupTimeout < 0 || o.Drain < 0 || o.StartDelay < 0 {
		errs = append(errs, errors.New("durations and --calls must not be negative"))
	}
	if o.Media != "audio" && o.Media != "av" {
		errs = append(errs, errors.New("--media must be audio or av"))
	}
	if err := checkPattern("--user-pattern", o.UserPattern, true); err != nil {
		errs = append(errs, err)
	}
	if err := checkPattern("--target", o.Target, false); err != nil {
		errs = append(errs, err)
	}
	if o.Answer && o.Target != "" && strings.ContainsAny(o.Target, ":@+") {
		errs = append(errs, errors.New("--answer needs --target to be a browser user-name pattern (callee-%d)"))
	}
	if o.Answer && o.Users == 0 && o.AnswerUsers > 1 && !strings.Contains(o.Target, "%d") {
		errs = append(errs, errors.New("--answer-users above 1 needs %d in --target (one name per user)"))
	}
	if o.Answer && o.Users > 0 && !strings.Contains(o.Target, "%d") {
		errs = append(errs, errors.New("--answer needs %d in --target: caller k calls callee k, so that no callee exceeds its call cap"))
	}
	if o.Token != "" && (o.Users != 1 || o.Answer || o.TokenSecret != "") {
		errs = append(errs, errors.New("--token is one user's token: use it with --users 1, without --answer and --token-secret"))
	}
	if o.MaxCallsPerUser < 1 || o.MsgRate <= 0 || o.MsgBurst < callerMessages {
		errs = append(errs, fmt.Errorf("--max-calls-per-user must be ≥ 1, --ws-rate > 0, --ws-burst ≥ %d", callerMessages))
	}
	return errors.Join(errs...)
}

// checkPattern allows at most one %d (required for user names, so that
// every user has its own name) and no other verb.
func checkPattern(flag, p string, needIndex bool) error {
	rest := strings.ReplaceAll(p, "%d", "")
	n := (len(p) - len(rest)) / 2
	switch {
	case strings.Contains(rest, "%"):
		return fmt.Errorf("%s %q: the only verb is %%d", flag, p)
	case n > 1:
		return fmt.Errorf("%s %q: at most one %%d", flag, p)
	case needIndex && n == 0:
		return fmt.Errorf("%s %q: needs %%d (one name per user)", flag, p)
	}
	return nil
}

// expand replaces %d in p with i.
func expand(p string, i int) string {
	return strings.Replace(p, "%d", strconv.Itoa(i), 1)
}
