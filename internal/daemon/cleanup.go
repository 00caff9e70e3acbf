package daemon

// TB is the part of testing.TB that Cleanup uses (a testing.TB is one).
// Naming it here keeps package testing out of binaries that start daemons
// (the interop harness).
type TB interface {
	Helper()
	Cleanup(func())
	Failed() bool
	Logf(format string, args ...any)
}

// Cleanup registers stop with t.Cleanup; if the test failed by then, the
// log tail (when tail is not nil) is logged first.
func Cleanup(t TB, name string, stop func(), tail func() string) {
	t.Helper()
	t.Cleanup(func() {
		if tail != nil && t.Failed() {
			t.Logf("%s log:\n%s", name, tail())
		}
		stop()
	})
}
