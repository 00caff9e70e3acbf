package load

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenLifetime is how long a minted token stays valid: the gateway checks
// it at the handshake only.
const tokenLifetime = time.Hour

// token returns the JWT user name logs in with: o.Token as given, an
// HS256 token minted with o.TokenSecret (sub = name, exp, iat, and aud/iss
// when set), or "" without authentication.
func (r *runner) token(name string) (string, error) {
	switch {
	case r.o.Token != "":
		return r.o.Token, nil
	case r.o.TokenSecret == "":
		return "", nil
	}
	now := time.Now()
	claims := jwt.MapClaims{"sub": name, "iat": now.Unix(), "exp": now.Add(tokenLifetime).Unix()}
	if r.o.TokenAudience != "" {
		claims["aud"] = r.o.TokenAudience
	}
	if r.o.TokenIssuer != "" {
		claims["iss"] = r.o.TokenIssuer
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(r.o.TokenSecret))
	if err != nil {
		return "", fmt.Errorf("load: mint token for %s: %w", name, err)
	}
	return s, nil
}

// tokenSubject returns the sub claim of a given token (unverified: the
// gateway verifies it), the name its user must log in with.
func tokenSubject(tok string) (string, error) {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
		return "", fmt.Errorf("load: --token: %w", err)
	}
	sub, err := claims.GetSubject()
	if err != nil || sub == "" {
		return "", fmt.Errorf("load: --token has no sub claim")
	}
	return sub, nil
}
