package interop

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromiumPath finds Chromium; the README's test command installs it, so a
// missing browser fails the test rather than skipping it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (%v): run the README's test command, which installs it", err)
	}
	return p
}

// headless runs one headless Chromium command on a fresh profile.
func headless(ctx context.Context, t *testing.T, chromium string, args ...string) []byte {
	t.Helper()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// TestHTMLReportInChromium opens a report of a real run (plus a failure
// and an unsupported cell) in headless Chromium: the screenshot must be a
// real picture and the DOM must hold the matrix with its rows.
func TestHTMLReportInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	l := startLocal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	scs, _ := Select(Matrix(), `^browser-to-browser/(answered-audio|busy)$`)
	rs := append(Run(ctx, l.Deployment, scs), sampleResults()[2:]...)
	rs = append(rs, RunOne(ctx, l.Deployment, NegativeControl()))

	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := WriteHTML(&b, NewReport(l.Name, time.Now(), rs)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	headless(ctx, t, chromium, "--screenshot="+shot, "--window-size=1200,800", "file://"+page)
	checkScreenshot(t, shot)
	dom := string(headless(ctx, t, chromium, "--dump-dom", "file://"+page))
	checkMatrixDOM(t, dom)
	if keep := os.Getenv("INTEROP_SCREENSHOT"); keep != "" {
		if data, err := os.ReadFile(shot); err == nil {
			_ = os.WriteFile(keep, data, 0o644)
		}
	}
}

func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 800 || b.Dy() < 600 {
		t.Fatalf("screenshot is %v", b)
	}
	colours := map[[3]uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	if len(colours) < 20 {
		t.Fatalf("the screenshot looks blank (%d colours)", len(colours))
	}
}

func checkMatrixDOM(t *testing.T, dom string) {
	t.Helper()
	i := strings.Index(dom, `<table id="matrix">`)
	if i < 0 {
		t.Fatalf("no <table id=\"matrix\"> in the DOM:\n%.2000s", dom)
	}
	table := dom[i:]
	table = table[:strings.Index(table, "</table>")]
	for _, want := range []string{"<th>browser</th>", "<th>sip</th>", "<th>jingle</th>", "PASS 2/2", "not bridged",
		`class="fail"`, `class="unsupported"`} {
		if !strings.Contains(table, want) {
			t.Errorf("the matrix lacks %q:\n%s", want, table)
		}
	}
	if got := strings.Count(table, "<tr>"); got != 1+len(Dialects) {
		t.Errorf("the matrix has %d rows, want %d", got, 1+len(Dialects))
	}
	if !strings.Contains(dom, "no ICE connectivity") {
		t.Error("the negative control's reason is not on the page")
	}
}
