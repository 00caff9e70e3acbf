package hugeheap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestParseMode(t *testing.T) {
	for in, want := range map[string]string{
		"always [madvise] never\n": "madvise",
		"[always] madvise never\n": "always",
		"always madvise [never]\n": "never",
		"":                         "",
		"] [":                      "",
	} {
		if got := parseMode(in); got != want {
			t.Errorf("parseMode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTHPDisabled(t *testing.T) {
	for in, want := range map[string]bool{
		"": false, "disablethp=1": true, "gctrace=1,disablethp=1": true, "disablethp=0": false,
		"disablethp=1,disablethp=0": false, "xdisablethp=1": false,
	} {
		if got := thpDisabled(in); got != want {
			t.Errorf("thpDisabled(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestPrepareRefusesSizes(t *testing.T) {
	for _, n := range []int64{-HugePage, 0, HugePage + 4096, maxSize + HugePage} {
		if _, err := Prepare(n); !errors.Is(err, ErrSize) {
			t.Errorf("Prepare(%d) = %v, want ErrSize", n, err)
		}
	}
}

// anonHuge sums AnonHugePages over this process's mappings (kB).
func anonHuge(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var kb int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "AnonHugePages:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			kb += n
		}
	}
	return kb
}

var sink [][]byte

// growHeap has the heap grow by 32 MiB of small objects, each touched, and
// returns how many kB of huge pages the process gained meanwhile.
func growHeap(t *testing.T) int64 {
	before := anonHuge(t)
	for i := 0; i < 1024; i++ {
		b := make([]byte, 32<<10)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		sink = append(sink, b)
	}
	return anonHuge(t) - before
}

// childEnv makes the test binary run TestChild in a fresh process: a heap
// that grew once has free pages to reuse, and a second growth would land
// there (go test -count).
const childEnv = "HUGEHEAP_CHILD"

// TestChild is the child of TestPrepareGrowsHeapInHugePages: with
// HUGEHEAP_CHILD=prepare it calls Prepare first, with =plain it does not;
// then it grows the heap and prints what it saw.
func TestChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		return // run directly: nothing to do
	}
	var r Result
	if mode == "prepare" {
		before := anonHuge(t)
		var err error
		if r, err = Prepare(64 << 20); err != nil {
			t.Fatal(err)
		}
		if got := anonHuge(t) - before; got > 2048 {
			t.Fatalf("Prepare made %d kB of huge pages resident, want none", got)
		}
	}
	fmt.Printf("child: advised=%d huge_kb=%d\n", r.Advised, growHeap(t))
}

// child runs TestChild in a fresh process and returns what it printed.
func child(t *testing.T, mode string) (advised, hugeKB int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", mode, err, out)
	}
	i := bytes.Index(out, []byte("child: "))
	if i < 0 {
		t.Fatalf("child %s printed no result:\n%s", mode, out)
	}
	if _, err := fmt.Sscanf(string(out[i:]), "child: advised=%d huge_kb=%d", &advised, &hugeKB); err != nil {
		t.Fatalf("child %s: %v\n%s", mode, err, out)
	}
	return advised, hugeKB
}

// TestPrepareGrowsHeapInHugePages: after Prepare, the heap's growth is
// backed by huge pages; without it, with the kernel in madvise mode, it is
// not. In always mode the heap has them anyway and Prepare does nothing;
// with never or no THP it can do nothing; with GODEBUG=disablethp=1 it
// leaves the heap as the runtime was told to.
func TestPrepareGrowsHeapInHugePages(t *testing.T) {
	mode := kernelMode()
	advised, withKB := child(t, "prepare")
	_, plainKB := child(t, "plain")
	t.Logf("THP mode %q: advised %d MiB; 32 MiB of heap growth took %d kB of huge pages after Prepare, %d kB without",
		mode, advised>>20, withKB, plainKB)
	switch {
	case mode == "madvise" && !thpDisabled(os.Getenv("GODEBUG")):
		if advised < 60<<20 {
			t.Fatalf("advised %d bytes, want about 64 MiB", advised)
		}
		if withKB < 16<<10 {
			t.Fatalf("after Prepare, 32 MiB of heap growth took %d kB of huge pages, want most of it", withKB)
		}
		if plainKB > withKB/4 {
			t.Fatalf("without Prepare the heap took %d kB of huge pages, with it %d: Prepare made no difference", plainKB, withKB)
		}
	default:
		if advised != 0 {
			t.Fatalf("THP mode %q: advised %d bytes, want none", mode, advised)
		}
	}
}
