package ws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sigbridge/sigbridge/gateway"
)

// maxTokenBytes bounds a token before any parsing.
const maxTokenBytes = 4 << 10

// Authentication errors. They never reach a client (the handshake answers a
// bare 401); they are logged without the token.
var (
	errNoToken     = errors.New("no token")
	errBadToken    = errors.New("invalid token")
	errBadIdentity = errors.New("token subject is not a valid user name")
)

// authenticator verifies the JWT of a WebSocket handshake before the
// upgrade. The identity is the token's sub claim, which must be a valid
// user name (gateway.IsUserName).
type authenticator struct {
	secret []byte
	opts   []jwt.ParserOption
}

// hmacAlgorithms are the only algorithms a shared secret can verify.
var hmacAlgorithms = map[string]bool{"HS256": true, "HS384": true, "HS512": true}

// newAuthenticator returns nil when cfg has no TokenSecret (no auth).
func newAuthenticator(cfg Config, log *slog.Logger) *authenticator {
	if cfg.TokenSecret == "" {
		return nil
	}
	algs := allowedAlgorithms(cfg.TokenAlgorithms, log)
	opts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithExpirationRequired()}
	if cfg.TokenAudience != "" {
		opts = append(opts, jwt.WithAudience(cfg.TokenAudience))
	}
	if cfg.TokenIssuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.TokenIssuer))
	}
	return &authenticator{secret: []byte(cfg.TokenSecret), opts: opts}
}

// allowedAlgorithms keeps the HMAC algorithms of the configured list; with
// none left it falls back to HS256 (and says so).
func allowedAlgorithms(configured []string, log *slog.Logger) []string {
	var algs []string
	for _, a := range configured {
		if hmacAlgorithms[a] {
			algs = append(algs, a)
		} else {
			log.Error("ignoring token algorithm: only HS256, HS384 and HS512 work with a shared secret", "alg", a)
		}
	}
	if len(algs) == 0 {
		return []string{"HS256"}
	}
	return algs
}

// identity returns the authenticated user name of r.
func (a *authenticator) identity(r *http.Request) (string, error) {
	raw := requestToken(r)
	if raw == "" {
		return "", errNoToken
	}
	if len(raw) > maxTokenBytes {
		return "", fmt.Errorf("%w: over %d bytes", errBadToken, maxTokenBytes)
	}
	claims := &strictClaims{}
	if _, err := jwt.ParseWithClaims(raw, claims, a.key, a.opts...); err != nil {
		return "", fmt.Errorf("%w: %w", errBadToken, err)
	}
	if !gateway.IsUserName(claims.Subject) {
		return "", errBadIdentity
	}
	return claims.Subject, nil
}

// strictClaims are the registered claims with the times exp, nbf and iat
// required to be JSON numbers (RFC 7519 §2 NumericDate). The library also
// takes a number in a string ("exp":"9999999999"), which no issuer of ours
// produces and which only a forger would need.
type strictClaims struct {
	jwt.RegisteredClaims
}

var errClaimType = errors.New("exp, nbf and iat must be JSON numbers")

// UnmarshalJSON checks the JSON types of the time claims, then decodes.
func (c *strictClaims) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, k := range []string{"exp", "nbf", "iat"} {
		if v, ok := raw[k]; ok && !isJSONNumber(v) {
			return fmt.Errorf("%w: %s", errClaimType, k)
		}
	}
	return json.Unmarshal(b, &c.RegisteredClaims)
}

// isJSONNumber reports whether v is a JSON number (not a string, null…).
func isJSONNumber(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'))
}

func (a *authenticator) key(t *jwt.Token) (any, error) {
	if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
		return nil, fmt.Errorf("%w: algorithm %v", errBadToken, t.Header["alg"])
	}
	return a.secret, nil
}

// requestToken takes the token from ?token= (browsers cannot set headers on
// a WebSocket) or from an Authorization: Bearer header.
func requestToken(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
