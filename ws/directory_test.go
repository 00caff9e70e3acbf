package ws

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sigbridge/sigbridge/gateway"
)

func TestUniqueName(t *testing.T) {
	taken := map[string]bool{"alice": true, "alice1": true, "alice2": true}
	if got := uniqueName("alice", func(n string) bool { return taken[n] }); got != "alice3" {
		t.Fatalf("got %q", got)
	}
	if got := uniqueName("bob", func(n string) bool { return taken[n] }); got != "bob" {
		t.Fatalf("got %q", got)
	}
	long := strings.Repeat("é", 64)
	got := uniqueName(long, func(n string) bool { return n == long })
	if utf8.RuneCountInString(got) != 64 || !strings.HasSuffix(got, "1") || !gateway.IsUserName(got) {
		t.Fatalf("got %q", got)
	}
}

func TestDirectoryLookup(t *testing.T) {
	d := newDirectory(DirectoryAll, time.Millisecond)
	c := &conn{out: newOutQueue(8), done: make(chan struct{}), s: &Server{}}
	c.id = d.add(c)
	if _, err := d.lookup("alice"); err == nil || !isErr(err, gateway.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if got, _ := d.claim(c, "alice"); got != "alice" {
		t.Fatalf("claim %q", got)
	}
	if got, err := d.lookup("alice"); err != nil || got != c {
		t.Fatalf("lookup: %v", err)
	}
	d.remove(c)
	if _, err := d.lookup("alice"); !isErr(err, gateway.ErrOffline) {
		t.Fatalf("after leaving: %v", err)
	}
	if got := d.online(); len(got) != 0 {
		t.Fatalf("online after leaving: %v", got)
	}
}
