package plane

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrorHook counts Redis command and dial errors (not nil replies, not
// calls their caller cancelled, not NOSCRIPT, which is expected after a
// restart and answered by loading the scripts); add it to the node's
// clients.
type ErrorHook struct{ count func() }

// NewErrorHook returns a hook that calls count for each error.
func NewErrorHook(count func()) *ErrorHook { return &ErrorHook{count: count} }

func (h *ErrorHook) seen(err error) {
	if err != nil && !errors.Is(err, redis.Nil) && !errors.Is(err, context.Canceled) && !strings.HasPrefix(err.Error(), "NOSCRIPT") {
		h.count()
	}
}

// DialHook counts a failed dial.
func (h *ErrorHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		h.seen(err)
		return c, err
	}
}

// ProcessHook counts a failed command.
func (h *ErrorHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		// go-redis may set the command's error only after the hooks.
		if err != nil {
			h.seen(err)
		} else {
			h.seen(cmd.Err())
		}
		return err
	}
}

// ProcessPipelineHook counts each failed command of a pipeline.
func (h *ErrorHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			h.seen(c.Err())
		}
		return err
	}
}
