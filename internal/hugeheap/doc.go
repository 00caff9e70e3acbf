// Package hugeheap asks the kernel to back the Go heap's next growth with
// transparent huge pages (2 MiB) where the kernel gives them only on
// request (/sys/kernel/mm/transparent_hugepage/enabled = madvise, as on
// many cloud and micro-VM kernels).
//
// The Go runtime maps heap memory as it grows and never asks for huge
// pages itself, so on such a kernel every 4 KiB page of a growing heap
// costs a page fault when first touched; on a virtual machine one costs
// about 10 µs (docs/PERFORMANCE.md). Prepare has the runtime map a stretch
// of heap address space at start, without touching it, marks that stretch
// MADV_HUGEPAGE and hands it back to the runtime: the heap then grows into
// it with one fault per 2 MiB. Nothing is made resident by Prepare.
package hugeheap
