package sip

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// nonceLifetime is how long a digest nonce we issued stays valid.
const nonceLifetime = 5 * time.Minute

// sourceAddr is the unmapped IP address a request came from.
func sourceAddr(req *sip.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// isTrusted reports whether the request came from a TrustedSources prefix
// (::ffff:-mapped IPv4 sources match IPv4 prefixes).
func (a *Adapter) isTrusted(req *sip.Request) bool {
	ip, ok := sourceAddr(req)
	if !ok {
		return false
	}
	for _, p := range a.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// authenticate decides who is calling: a trusted source is believed (its
// From), anyone else must pass a digest challenge with an InboundUser.
func (a *Adapter) authenticate(req *sip.Request) (string, *rejection) {
	if a.isTrusted(req) {
		return fromIdentity(req, ""), nil
	}
	if len(a.users) == 0 {
		return "", &rejection{code: 403, reason: "Forbidden", deny: "untrusted-source"}
	}
	user, stale, ok := a.checkDigest(req)
	if ok {
		return a.aorOf(user), nil
	}
	return "", a.challenge(stale)
}

// fromIdentity is the caller's routable address "sip:user@host" from the
// From header; user, when set (digest), replaces the From user so the
// identity cannot be spoofed. Unusable values become "anonymous".
func fromIdentity(req *sip.Request, user string) string {
	from := req.From()
	host := from.Address.Host
	if validHost(host) != nil {
		host = "anonymous.invalid"
	}
	if user == "" {
		u, err := unescapeUser(from.Address.User)
		if err != nil || checkDialUser(u) != nil {
			u = "anonymous"
		}
		user = u
	}
	if from.Address.Port > 0 {
		host = fmt.Sprintf("%s:%d", host, from.Address.Port)
	}
	return "sip:" + user + "@" + host
}

// challenge is a 401 with one WWW-Authenticate per offered algorithm, most
// preferred first (RFC 8760 §2.4), all with the same nonce.
func (a *Adapter) challenge(stale bool) *rejection {
	return &rejection{code: 401, reason: "Unauthorized", deny: "challenge",
		hdrs: a.challengeHeaders("WWW-Authenticate", stale)}
}

// challengeHeaders builds the challenges under name (WWW-Authenticate or
// Proxy-Authenticate).
func (a *Adapter) challengeHeaders(name string, stale bool) []sip.Header {
	nonce := a.newNonce(time.Now())
	hdrs := make([]sip.Header, 0, len(a.digestAl))
	for _, alg := range a.digestAl {
		chal := &digest.Challenge{Realm: a.cfg.Realm, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
		hdrs = append(hdrs, sip.NewHeader(name, chal.String()))
	}
	return hdrs
}

// offers reports whether our challenges offer alg; a response without an
// algorithm parameter means MD5 (RFC 3261 §22.4).
func (a *Adapter) offers(alg string) bool {
	alg = strings.ToUpper(alg)
	if alg == "" {
		alg = "MD5"
	}
	for _, x := range a.digestAl {
		if x == alg {
			return true
		}
	}
	return false
}

// newNonce is stateless: its issue time and an HMAC over it.
func (a *Adapter) newNonce(now time.Time) string {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(now.Unix()))
	return hex.EncodeToString(ts[:]) + hex.EncodeToString(a.nonceMAC(ts[:]))
}

func (a *Adapter) nonceMAC(ts []byte) []byte {
	m := hmac.New(sha256.New, a.nonceKey)
	m.Write(ts)
	return m.Sum(nil)[:16]
}

// checkNonce reports whether we issued nonce (valid) and whether it is
// still fresh.
func (a *Adapter) checkNonce(nonce string, now time.Time) (valid, fresh bool) {
	b, err := hex.DecodeString(nonce)
	if err != nil || len(b) != 24 || !hmac.Equal(b[8:], a.nonceMAC(b[:8])) {
		return false, false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	return true, now.Sub(issued) < nonceLifetime && !issued.After(now.Add(time.Minute))
}

// checkDigest verifies the Authorization header against InboundUsers.
func (a *Adapter) checkDigest(req *sip.Request) (user string, stale, ok bool) {
	h := req.GetHeader("Authorization")
	if h == nil {
		return "", false, false
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil || cred.Realm != a.cfg.Realm {
		return "", false, false
	}
	valid, fresh := a.checkNonce(cred.Nonce, time.Now())
	if !valid {
		return "", false, false
	}
	pw, known := a.users[cred.Username]
	if !known || !a.offers(cred.Algorithm) || !a.digestMatches(req, cred, pw) {
		return "", false, false
	}
	return cred.Username, !fresh, fresh
}

func (a *Adapter) digestMatches(req *sip.Request, cred *digest.Credentials, pw string) bool {
	chal := &digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, Opaque: cred.Opaque}
	if cred.QOP != "" {
		chal.QOP = []string{cred.QOP}
	}
	if cred.QOP != "" && cred.QOP != "auth" {
		return false
	}
	want, err := digest.Digest(chal, digest.Options{Method: string(req.Method), URI: cred.URI,
		Username: cred.Username, Password: pw, Cnonce: cred.Cnonce, Count: cred.Nc})
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(strings.ToLower(want.Response)), []byte(strings.ToLower(cred.Response)))
}

// applyDigest answers a 401/407 challenge in res by adding (Proxy-)
// Authorization to req (protocols.md §5.5).
func applyDigest(req *sip.Request, res *sip.Response, user, password string) error {
	chalHdr, credHdr := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		chalHdr, credHdr = "Proxy-Authenticate", "Proxy-Authorization"
	}
	chal, err := pickChallenge(res.GetHeaders(chalHdr))
	if err != nil {
		return fmt.Errorf("sip: %d: %w", res.StatusCode, err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: string(req.Method), URI: req.Recipient.Addr(),
		Username: user, Password: password})
	if err != nil {
		return fmt.Errorf("sip: digest: %w", err)
	}
	req.RemoveHeader(credHdr)
	req.AppendHeader(sip.NewHeader(credHdr, cred.String()))
	return nil
}

// pickChallenge returns the first challenge (the server's most preferred,
// RFC 8760 §2.4) whose algorithm we can answer.
func pickChallenge(hdrs []sip.Header) (*digest.Challenge, error) {
	if len(hdrs) == 0 {
		return nil, errors.New("no digest challenge")
	}
	var last error
	for _, h := range hdrs {
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil {
			last = fmt.Errorf("bad challenge: %w", err)
			continue
		}
		chal.Algorithm = strings.ToUpper(chal.Algorithm)
		if !digest.CanDigest(chal) {
			last = fmt.Errorf("unsupported digest algorithm %q", chal.Algorithm)
			continue
		}
		return chal, nil
	}
	return nil, last
}

// isStale reports a challenge that only says our nonce expired.
func isStale(res *sip.Response) bool {
	for _, name := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
		if h := res.GetHeader(name); h != nil {
			if c, err := digest.ParseChallenge(h.Value()); err == nil && c.Stale {
				return true
			}
		}
	}
	return false
}
