package sip

import (
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Registration (RFC 3261 §10): each Account keeps a binding of its AOR to our
// Contact at its registrar, so calls to the AOR reach the account's
// LocalUser. The loop (registration.go) registers with digest, refreshes
// before expiry and backs off after failures.

// account is a compiled Account.
type account struct {
	name      string
	registrar sip.Uri
	domain    string
	user      string
	authUser  string
	password  string
	expires   time.Duration
	localUser string
}

func compileAccounts(as []Account) ([]*account, error) {
	out := make([]*account, 0, len(as))
	for i, acc := range as {
		c, err := compileAccount(acc)
		if err != nil {
			return nil, fmt.Errorf("%w: account %d (%s): %w", ErrConfig, i, acc.Name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func compileAccount(acc Account) (*account, error) {
	c := &account{name: acc.Name, domain: acc.Domain, user: acc.Username, authUser: acc.AuthUsername,
		expires: acc.Expires, localUser: acc.LocalUser}
	if err := sip.ParseUri(acc.Registrar, &c.registrar); err != nil || c.registrar.Host == "" {
		return nil, fmt.Errorf("bad registrar URI %q", acc.Registrar)
	}
	if checkDialUser(c.user) != nil || c.user == "" {
		return nil, fmt.Errorf("bad username %q", c.user)
	}
	if c.localUser == "" || checkHeaderValue(c.localUser) != nil {
		return nil, fmt.Errorf("needs a local_user")
	}
	var err error
	if c.password, err = secret(acc.Password, acc.PasswordEnv, "account "+acc.Name); err != nil {
		return nil, err
	}
	c.defaults()
	return c, nil
}

func (c *account) defaults() {
	if c.name == "" {
		c.name = c.user + "@" + c.registrar.Host
	}
	if c.domain == "" {
		c.domain = c.registrar.Host
	}
	if c.authUser == "" {
		c.authUser = c.user
	}
	if c.expires <= 0 {
		c.expires = defaultExpires
	}
}

// accountFor returns the account whose AOR user is user, if any.
func (a *Adapter) accountFor(user string) *account {
	for _, c := range a.accounts {
		if c.user == user {
			return c
		}
	}
	return nil
}
