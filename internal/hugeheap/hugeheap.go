package hugeheap

import (
	"errors"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// Result says what Prepare did.
type Result struct {
	// Mode is the kernel's setting, from
	// /sys/kernel/mm/transparent_hugepage/enabled: "always", "madvise",
	// "never", or "" when there is none (not Linux, no THP).
	Mode string
	// Advised is how many bytes of heap address space were marked for huge
	// pages (0 when Mode is not "madvise": with "always" the heap has them
	// anyway, with "never" or none it cannot).
	Advised int64
}

// ErrSize: a size Prepare refuses.
var ErrSize = errors.New("hugeheap: size must be a positive multiple of 2 MiB, at most 64 GiB (and half the address space)")

// HugePage is the unit of Prepare's size: one transparent huge page on
// x86-64 and on arm64 with 4 KiB pages (advise aligns to the kernel's own
// size, hpage_pmd_size).
const HugePage = 2 << 20

const maxSize = 64 << 30

// Prepare readies size bytes of heap for huge pages (see the package
// comment). It does nothing unless the kernel's mode is madvise, nor when
// GODEBUG has disablethp=1. It runs a garbage collection and returns the memory it
// borrowed to the operating system (debug.FreeOSMemory): call it once, at
// start, before load.
func Prepare(size int64) (Result, error) {
	if err := CheckSize(size); err != nil {
		return Result{}, err
	}
	mode := kernelMode()
	r := Result{Mode: mode}
	if mode != "madvise" || thpDisabled(os.Getenv("GODEBUG")) {
		return r, nil
	}
	// A large object comes straight from fresh heap pages that the runtime
	// knows are zero: make does not touch them.
	buf := make([]byte, size+HugePage)
	n, err := advise(buf)
	runtime.KeepAlive(buf) // garbage from here: the collection below frees it
	if err != nil {
		return r, err
	}
	r.Advised = n
	runtime.GC()
	debug.FreeOSMemory()
	return r, nil
}

// CheckSize returns ErrSize unless size is one Prepare takes.
func CheckSize(size int64) error {
	if size <= 0 || size%HugePage != 0 || size > maxSize || uint64(size) > uint64(math.MaxInt)/2 {
		return ErrSize
	}
	return nil
}

// thpDisabled reports whether GODEBUG asks the runtime to keep its heap
// off huge pages (disablethp=1): Prepare then leaves it so.
func thpDisabled(godebug string) bool {
	disabled := false
	for _, kv := range strings.Split(godebug, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(kv), "disablethp="); ok {
			disabled = v != "0" // the last setting wins, as in the runtime
		}
	}
	return disabled
}

// parseMode picks the bracketed word of "always [madvise] never".
func parseMode(s string) string {
	i := strings.IndexByte(s, '[')
	j := strings.IndexByte(s, ']')
	if i < 0 || j < i {
		return ""
	}
	return s[i+1 : j]
}
