package sip

import (
	"context"
	"sync"
)

// byeWait lets a closed connection end the wait for our BYE's answer. The
// BYE is sent and awaited on the leg's goroutine, which handles the
// flowClosed item (flowGone) only after that wait; a UA whose connection
// closed can never answer, so without this the leg and its dialog would
// stay for byeTimeout.
type byeWait struct {
	mu     sync.Mutex
	gone   bool               // the dialog's connection closed
	cancel context.CancelFunc // the BYE's wait in progress, if any
}

// start registers the wait that cancel ends; a connection that closed
// already ends it at once.
func (w *byeWait) start(cancel context.CancelFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gone {
		cancel()
		return
	}
	w.cancel = cancel
}

// done forgets the wait.
func (w *byeWait) done() {
	w.mu.Lock()
	w.cancel = nil
	w.mu.Unlock()
}

// flowGone ends the wait in progress and any later one.
func (w *byeWait) flowGone() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gone = true
	if w.cancel != nil {
		w.cancel()
	}
}
