//go:build !linux

package hugeheap

func kernelMode() string { return "" }

func advise([]byte) (int64, error) { return 0, nil }
