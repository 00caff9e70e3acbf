package interop

import (
	"context"
	"errors"
)

func newBaresipAgent(ctx context.Context, o agentOptions) (Agent, error) {
	return nil, errors.New("interop: baresip: not yet")
}
