package sip

import (
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sigbridge/sigbridge/internal/kamailiotest"
)

// startKamailio starts the shared registrar test config
// (internal/kamailiotest) on port of 127.0.0.1.
func startKamailio(t *testing.T, port int) *kamailiotest.Kamailio {
	t.Helper()
	return kamailiotest.Start(t, kamailiotest.Options{Config: kamailiotest.RegistrarConfig, Port: port})
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
		Accounts: []Account{kamailioAccount(kam.Addr, "gwpass")}})
	waitRegistered(t, env, 10*time.Second)
	time.Sleep(3500 * time.Millisecond) // longer than the binding lives
	if registrationState(env) != 1 {
		t.Fatal("registration lapsed")
	}
	if n := registerTransactions(env); n < 4 {
		t.Errorf("%v REGISTER transactions: want >= 4 (challenge + answer, refreshed)", n)
	}
	uac := startSIPp(t, "uac_call.xml", kam.Addr, "-s", "gwuser")
	env.users.leg(t, "answer")
	uac.wait(t)
	waitMetric(t, env, "in", "200")
}

// TestKamailioWrongPassword: a refused registration keeps the gauge at 0
// and is retried with back-off.
func TestKamailioWrongPassword(t *testing.T) {
	kam := startKamailio(t, freePort(t))
	env := newEnv(t, Config{Accounts: []Account{kamailioAccount(kam.Addr, "wrong")}})
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
	port := freePort(t)
	env := newEnv(t, Config{Accounts: []Account{kamailioAccount("127.0.0.1:"+strconv.Itoa(port), "gwpass")}})
	time.Sleep(1500 * time.Millisecond)
	if registrationState(env) != 0 {
		t.Fatal("registered without a registrar")
	}
	startKamailio(t, port)
	waitRegistered(t, env, 20*time.Second)
}
