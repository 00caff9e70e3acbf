package sip

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// kamailio is a Kamailio registrar/proxy started by a test on loopback
// (testdata/kamailio/kamailio.cfg); it is killed at test end.
type kamailio struct {
	addr string
	out  *syncBuffer
}

func needKamailio(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kamailio")
	if err != nil {
		t.Fatalf("kamailio not found (%v): install Debian package kamailio; test command: %s", err, readmeTestCommand)
	}
	return p
}

func startKamailio(t *testing.T, port int) *kamailio {
	t.Helper()
	bin := needKamailio(t)
	cfg, err := filepath.Abs(filepath.Join("testdata", "kamailio", "kamailio.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	k := &kamailio{addr: "127.0.0.1:" + strconv.Itoa(port), out: &syncBuffer{}}
	cmd := exec.Command(bin, "-f", cfg, "-DD", "-E", "-l", "udp:"+k.addr, "-Y", t.TempDir(),
		"-n", "1", "-m", "32", "-M", "8")
	cmd.Stdout, cmd.Stderr = k.out, k.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kamailio: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kamailio output:\n%s", k.out.String())
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	})
	k.waitReady(t)
	return k
}

// waitReady pings Kamailio with OPTIONS until it answers.
func (k *kamailio) waitReady(t *testing.T) {
	t.Helper()
	c := dialRaw(t, k.addr)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c.send(t, c.rawRequest("OPTIONS", "sip:"+k.addr, nil, ""))
		if res := c.final(300 * time.Millisecond); res != nil && res.StatusCode == 200 {
			return
		}
	}
	t.Fatalf("kamailio did not start:\n%s", k.out.String())
}

func kamailioAccount(addr, password string) Account {
	return Account{Name: "kam", Registrar: "sip:" + addr, Username: "gwuser", Password: password,
		Expires: 2 * time.Second, LocalUser: "answer"}
}

func registrationState(env *testEnv) float64 {
	return testutil.ToFloat64(env.a.m.registration.WithLabelValues("kam"))
}

func registerTransactions(env *testEnv) float64 {
	return testutil.ToFloat64(env.a.m.transactions.WithLabelValues("out", "REGISTER"))
}

func waitRegistered(t *testing.T, env *testEnv, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for registrationState(env) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("not registered within %v", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKamailioRegistrationAndInboundCall: the gateway registers gwuser at
// Kamailio with digest auth, keeps refreshing the 2 s binding, and a SIPp
// caller that dials gwuser at Kamailio reaches the mapped local user.
func TestKamailioRegistrationAndInboundCall(t *testing.T) {
	kam := startKamailio(t, freePort(t))
	env := newEnv(t, Config{TrustedSources: []string{"127.0.0.1"},
		Accounts: []Account{kamailioAccount(kam.addr, "gwpass")}})
	waitRegistered(t, env, 10*time.Second)
	time.Sleep(3500 * time.Millisecond) // longer than the binding lives
	if registrationState(env) != 1 {
		t.Fatal("registration lapsed")
	}
	if n := registerTransactions(env); n < 4 {
		t.Errorf("%v REGISTER transactions: want >= 4 (challenge + answer, refreshed)", n)
	}
	uac := startSIPp(t, "uac_call.xml", kam.addr, "-s", "gwuser")
	env.users.leg(t, "answer")
	uac.wait(t)
	waitMetric(t, env, "in", "200")
}

// TestKamailioWrongPassword: a refused registration keeps the gauge at 0
// and is retried with back-off.
func TestKamailioWrongPassword(t *testing.T) {
	kam := startKamailio(t, freePort(t))
	env := newEnv(t, Config{Accounts: []Account{kamailioAccount(kam.addr, "wrong")}})
	time.Sleep(3 * time.Second)
	if registrationState(env) != 0 {
		t.Fatal("registered with a wrong password")
	}
	if n := registerTransactions(env); n < 4 {
		t.Errorf("%v REGISTER transactions: want retries", n)
	}
}

// TestRegistrationRecovers: the registrar is down at start; once it is up,
// the back-off loop registers.
func TestRegistrationRecovers(t *testing.T) {
	needKamailio(t)
	port := freePort(t)
	env := newEnv(t, Config{Accounts: []Account{kamailioAccount("127.0.0.1:"+strconv.Itoa(port), "gwpass")}})
	time.Sleep(1500 * time.Millisecond)
	if registrationState(env) != 0 {
		t.Fatal("registered without a registrar")
	}
	startKamailio(t, port)
	waitRegistered(t, env, 20*time.Second)
}
