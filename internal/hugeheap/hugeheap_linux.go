package hugeheap

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"unsafe"
)

// thpEnabled is where Linux tells which mode of transparent huge pages is on.
const thpEnabled = "/sys/kernel/mm/transparent_hugepage/enabled"

// madvHugePage is MADV_HUGEPAGE.
const madvHugePage = 14

// kernelMode reads the bracketed mode of thpEnabled ("" if unreadable).
func kernelMode() string {
	b, err := os.ReadFile(thpEnabled)
	if err != nil {
		return ""
	}
	return parseMode(string(b))
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

// advise marks the huge-page-aligned part of buf MADV_HUGEPAGE and returns
// how many bytes that is.
func advise(buf []byte) (int64, error) {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	start := (p + HugePage - 1) &^ (HugePage - 1)
	end := (p + uintptr(len(buf))) &^ (HugePage - 1)
	if end <= start {
		return 0, nil
	}
	off := start - p
	if err := syscall.Madvise(buf[off:off+(end-start)], madvHugePage); err != nil {
		return 0, fmt.Errorf("hugeheap: madvise: %w", err)
	}
	return int64(end - start), nil
}
