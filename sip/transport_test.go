package sip

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gorilla/websocket"

	"github.com/sigbridge/sigbridge/gateway"
)

// optionsOver builds an OPTIONS for a stream transport.
func optionsOver(transport, local, target string) string {
	return "OPTIONS sip:" + target + " SIP/2.0\r\n" +
		"Via: SIP/2.0/" + transport + " " + local + ";branch=z9hG4bKstream1\r\n" +
		"From: <sip:tester@127.0.0.1>;tag=s1\r\nTo: <sip:" + target + ">\r\nCall-ID: stream-1\r\n" +
		"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
}

func readResponse(t *testing.T, r *bufio.Reader) *sip.Response {
	t.Helper()
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, b.String())
		}
		b.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	msg, err := sip.NewParser().ParseSIP([]byte(b.String()))
	if err != nil {
		t.Fatalf("parse %q: %v", b.String(), err)
	}
	return msg.(*sip.Response)
}

func TestTLSListener(t *testing.T) {
	cert, key := selfSigned(t)
	env := newEnv(t, Config{TLSListen: "127.0.0.1:0", TLSCert: cert, TLSKey: key})
	addr := env.a.AddrOf("tls")
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // self-signed test cert
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(optionsOver("TLS", conn.LocalAddr().String(), addr))); err != nil {
		t.Fatal(err)
	}
	if res := readResponse(t, bufio.NewReader(conn)); res.StatusCode != 200 {
		t.Fatalf("OPTIONS over TLS: %s", res.StartLine())
	}
}

func TestWebSocketListener(t *testing.T) {
	env := newEnv(t, Config{WSListen: "127.0.0.1:0", WSPath: "/sip-ws"})
	addr := env.a.AddrOf("ws")
	d := websocket.Dialer{Subprotocols: []string{"sip"}, HandshakeTimeout: 5 * time.Second}
	if _, res, err := d.Dial("ws://"+addr+"/elsewhere", nil); err == nil || res == nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("wrong path: err %v, response %v", err, res)
	}
	ws, _, err := d.Dial("ws://"+addr+"/sip-ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte(optionsOver("WS", "client.invalid", addr))); err != nil {
		t.Fatal(err)
	}
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "SIP/2.0 200") {
		t.Fatalf("OPTIONS over WebSocket: %q", data)
	}
}

// TestWebSocketSlowHandshake: a client that never finishes its handshake
// does not stop others from connecting.
func TestWebSocketSlowHandshake(t *testing.T) {
	env := newEnv(t, Config{WSListen: "127.0.0.1:0"})
	addr := env.a.AddrOf("ws")
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	_, _ = slow.Write([]byte("GET /sip HTTP/1.1\r\nHost: x\r\n"))
	d := websocket.Dialer{Subprotocols: []string{"sip"}, HandshakeTimeout: 2 * time.Second}
	ws, _, err := d.Dial("ws://"+addr+DefaultWSPath, nil)
	if err != nil {
		t.Fatalf("second client blocked: %v", err)
	}
	_ = ws.Close()
}

func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestUDPFallbackWhenTCPRefused: a browser caller's real Chromium offer
// makes the INVITE larger than 1300 bytes, so a route with automatic
// transport picks TCP; the callee is a UDP-only SIPp (nothing listens on
// TCP at its port), so the connection is refused and the INVITE is sent
// again, once, over UDP, as one large datagram. The call is answered and
// the hang-up reaches SIPp over UDP too.
func TestUDPFallbackWhenTCPRefused(t *testing.T) {
	env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
	uas := startSIPp(t, "uas_answer.xml", "")
	offer, err := os.ReadFile(filepath.Join("testdata", "browser", "chrome156_offer_audio_only.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	caller := newTestLeg("alice")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	call, err := env.gw.Place(ctx, gateway.PlaceRequest{Caller: caller, From: "alice", Target: "sip:bob@" + uas.addr,
		Offer: mustSDP(t, string(offer))})
	if err != nil {
		t.Fatal(err)
	}
	caller.call = call
	expectAnswer(t, caller)
	_ = call.Post(caller, gateway.Hangup{})
	uas.wait(t)
	waitDone(t, call)
	msgs := uas.messageLog(t)
	m := regexp.MustCompile(`UDP message received \[(\d+)\] bytes :\s*\n\s*\nINVITE `).FindStringSubmatch(msgs)
	if m == nil {
		t.Fatalf("SIPp got no INVITE over UDP:\n%s", msgs)
	}
	if n, _ := strconv.Atoi(m[1]); n <= udpMaxRequest {
		t.Errorf("INVITE of %d bytes over UDP; want one over %d (else no TCP would have been tried)", n, udpMaxRequest)
	}
}
