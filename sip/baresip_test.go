package sip

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestBaresipRegisters: baresip 1.0 (a third-party UA) registers at the
// registrar over UDP and TCP with digest (MD5 only, which it needs), and
// its binding goes away when it quits (unregistration, or for TCP the
// connection closing).
func TestBaresipRegisters(t *testing.T) {
	bin, err := exec.LookPath("baresip")
	if err != nil {
		t.Fatal("baresip not installed (Debian package baresip; .ci/test.sh installs it)")
	}
	for _, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			env := newEnv(t, Config{DigestAlgorithms: []string{"MD5"},
				InboundUsers: []InboundUser{{Username: "bob", Password: bobPassword}}})
			dir := baresipConfig(t, fmt.Sprintf("<sip:bob@%s;transport=%s>;auth_pass=%s;regint=120",
				env.a.Addr(), tr, bobPassword))
			var out bytes.Buffer
			cmd := exec.Command(bin, "-f", dir)
			cmd.Stdout, cmd.Stderr = &out, &out
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			t.Cleanup(func() {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
			})
			waitBindingsOr(t, env, 1, done, &out)
			bs := env.a.reg.live("bob", time.Now())
			if len(bs) != 1 || bs[0].flow.transport != map[string]string{"udp": "UDP", "tcp": "TCP"}[tr] {
				t.Fatalf("bindings %+v", bs)
			}
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM) // baresip unregisters and quits
			waitBindings(t, env, 0)
		})
	}
}

// baresipConfig writes a baresip configuration directory with one account
// and no audio devices. baresip binds its SIP ports itself (port 0: the
// kernel's choice, no port picked free first that someone else can take
// before baresip binds it); it registers from them.
func baresipConfig(t *testing.T, account string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := "sip_listen\t\t127.0.0.1:0\nmodule_path\t\t/usr/lib/baresip/modules\n" +
		"module\t\t\tg711.so\nmodule_app\t\taccount.so\naudio_player\t\tnil\naudio_source\t\tnil\n"
	for name, body := range map[string]string{"config": cfg, "accounts": account + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// waitBindingsOr waits for n bindings, failing early if the UA exits.
func waitBindingsOr(t *testing.T, env *testEnv, n float64, exited <-chan struct{}, out *bytes.Buffer) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for bindingsMetric(env) != n {
		select {
		case <-exited:
			t.Fatalf("baresip exited:\n%s", out.String())
		case <-deadline:
			t.Fatalf("bindings %v, want %v; baresip said:\n%s", bindingsMetric(env), n, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
