package jingle

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pion/sdp/v3"
)

// addSeeds adds every file of testdata/<dir> with the given suffix; the
// committed corpora under testdata/fuzz/ are added by the fuzz engine.
func addSeeds(f *testing.F, dir, suffix string) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"+suffix))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzSDPToJingle: any SDP that pion accepts converts without panicking;
// when it converts, the Jingle marshals, parses back under the safety
// rules, and converts back to an SDP that pion accepts.
func FuzzSDPToJingle(f *testing.F) {
	addSeeds(f, "browser", ".sdp")
	f.Fuzz(func(t *testing.T, data []byte) {
		var sd sdp.SessionDescription
		if sd.Unmarshal(data) != nil {
			return
		}
		for _, author := range []Role{Initiator, Responder} {
			mids := NewMidTable()
			j, err := SDPToJingle(&sd, author, SDPToJingleOptions{Mids: mids})
			if err != nil {
				continue
			}
			j.Action, j.SID = ActionSessionInitiate, "fuzz"
			x, err := j.Marshal()
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			j2, err := Parse(x)
			if err != nil {
				if len(x) > MaxStanzaSize {
					continue
				}
				t.Fatalf("our own XML does not parse: %v\n%s", err, x)
			}
			checkJingleToSDP(t, j2, author, mids)
		}
	})
}

// FuzzJingleToSDP: any input either fails Parse or converts without
// panicking; a successful conversion is an SDP that pion accepts and that
// converts back without panicking.
func FuzzJingleToSDP(f *testing.F) {
	addSeeds(f, "clients", ".xml")
	addSeeds(f, "golden", ".xml")
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := Parse(data)
		if err != nil {
			return
		}
		for _, author := range []Role{Initiator, Responder} {
			checkJingleToSDP(t, j, author, NewMidTable())
		}
	})
}

func checkJingleToSDP(t *testing.T, j *Jingle, author Role, mids *MidTable) {
	t.Helper()
	sd, err := JingleToSDP(j, author, JingleToSDPOptions{Mids: mids})
	if err != nil {
		return
	}
	out, err := sd.Marshal()
	if err != nil {
		t.Fatalf("sdp marshal: %v", err)
	}
	var again sdp.SessionDescription
	if err := again.Unmarshal(out); err != nil {
		t.Fatalf("our own SDP does not parse: %v\n%s", err, out)
	}
	_, _ = SDPToJingle(&again, author, SDPToJingleOptions{Mids: mids})
}
