package hugeheap

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// thpEnabled is where Linux tells which mode of transparent huge pages is on.
const thpEnabled = "/sys/kernel/mm/transparent_hugepage/enabled"

// pmdSize is where Linux tells the size of one transparent huge page.
const pmdSize = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"

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

// pageSize is the kernel's huge page size, HugePage when it does not say
// (it is 2 MiB on x86-64 and on arm64 with 4 KiB pages).
func pageSize() uintptr {
	b, err := os.ReadFile(pmdSize)
	if err != nil {
		return HugePage
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n == 0 || n&(n-1) != 0 {
		return HugePage
	}
	return uintptr(n)
}

// advise marks the part of buf aligned to the kernel's huge pages
// MADV_HUGEPAGE and returns how many bytes that is.
func advise(buf []byte) (int64, error) {
	hp := pageSize()
	p := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	start := (p + hp - 1) &^ (hp - 1)
	end := (p + uintptr(len(buf))) &^ (hp - 1)
	if end <= start {
		return 0, nil
	}
	off := start - p
	if err := syscall.Madvise(buf[off:off+(end-start)], madvHugePage); err != nil {
		return 0, fmt.Errorf("hugeheap: madvise: %w", err)
	}
	return int64(end - start), nil
}
