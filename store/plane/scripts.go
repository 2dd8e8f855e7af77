package plane

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua
var luaFS embed.FS

// scripts are the plane's Lua scripts. Scripts on a user's slot are
// prefixed with lib.lua.
type scripts struct {
	deliver, read, register, unregister, wake, poll *redis.Script
	send, history, grant, revoke, rebuild           *redis.Script
	gcra, track, session                            *redis.Script
	restoreSeq, raiseSeq, archived, restoreUnread   *redis.Script
	presence, claim, settle, receipt, rcptFlush     *redis.Script
	typing, pollEnd                                 *redis.Script
	all                                             []*redis.Script
	srcs                                            []string
}

func loadScripts() *scripts {
	lib := mustRead("lib")
	s := &scripts{}
	mk := func(name string, withLib bool) *redis.Script {
		src := mustRead(name)
		if withLib {
			src = lib + "\n" + src
		}
		sc := redis.NewScript(src)
		s.all = append(s.all, sc)
		s.srcs = append(s.srcs, src)
		return sc
	}
	s.deliver = mk("deliver", true)
	s.read = mk("read", true)
	s.register = mk("register", true)
	s.unregister = mk("unregister", true)
	s.wake = mk("wake", true)
	s.poll = mk("poll", true)
	s.send = mk("send", true)
	s.history = mk("history", false)
	s.grant = mk("grant", false)
	s.revoke = mk("revoke", false)
	s.rebuild = mk("rebuild", false)
	s.gcra = mk("gcra", false)
	s.track = mk("track", true)
	s.session = mk("session", false) // a session record and its expiry
	s.restoreSeq = mk("restoreseq", false)
	s.raiseSeq = mk("raiseseq", false)
	s.archived = mk("archived", false)
	s.restoreUnread = mk("restoreunread", false)
	s.presence = mk("presence", true)
	s.claim = mk("claim", false)
	s.settle = mk("settle", false)
	s.receipt = mk("receipt", true)
	s.rcptFlush = mk("rcptflush", true)
	s.typing = mk("typing", true)
	s.pollEnd = mk("pollend", true)
	return s
}

func mustRead(name string) string {
	b, err := luaFS.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic(fmt.Sprintf("embedded script %s: %v", name, err)) // a build error, not input
	}
	return string(b)
}

// load loads every script on every master, so that pipelined EVALSHA finds
// them after a restart or failover.
func (s *scripts) load(ctx context.Context, rdb redis.UniversalClient) error {
	loadOn := func(ctx context.Context, c *redis.Client) error {
		// Not Script.Load: inside a pipeline it would overwrite the
		// script's hash with the empty value of a command not yet run.
		pipe := c.Pipeline()
		for _, src := range s.srcs {
			pipe.ScriptLoad(ctx, src)
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, loadOn)
	case *redis.Client:
		err = loadOn(ctx, c)
	default:
		for _, src := range s.srcs {
			if err = rdb.ScriptLoad(ctx, src).Err(); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("load scripts: %w", err)
	}
	return nil
}

func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// evalCall is one script call in a pipeline.
type evalCall struct {
	script *redis.Script
	keys   []string
	args   []any
	cmd    *redis.Cmd
	caller context.Context // the caller's context when the batcher sends it
}

type batchedKey struct{}

// BatchedCallers returns, for a Redis hook, the contexts of the calls in a
// pipeline the batcher sent, in the order of the pipeline's commands (the
// pipeline's own context is the batcher's); nil for anything else, and
// always unless Options.CreditCallers is set. It lets a hook credit each
// command to the request that made it.
func BatchedCallers(ctx context.Context) []context.Context {
	callers, _ := ctx.Value(batchedKey{}).([]context.Context)
	return callers
}

// runPipelined runs calls as pipelined EVALSHA. go-redis does not fall back
// to EVAL inside a pipeline, so calls answered NOSCRIPT (which did not run)
// are run again once after loading the scripts. Each call's own result or
// error is in its cmd; the returned error is the first failure, if any.
func (s *scripts) runPipelined(ctx context.Context, rdb redis.UniversalClient, calls []*evalCall, credit bool) error {
	exec := func(cs []*evalCall) {
		ctx := ctx
		if credit && cs[0].caller != nil {
			callers := make([]context.Context, len(cs))
			for i, c := range cs {
				callers[i] = c.caller
			}
			ctx = context.WithValue(ctx, batchedKey{}, callers)
		}
		pipe := rdb.Pipeline()
		for _, c := range cs {
			c.cmd = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
		}
		pipe.Exec(ctx) // errors are read per command below
	}
	exec(calls)
	var retry []*evalCall
	for _, c := range calls {
		if isNoScript(c.cmd.Err()) {
			retry = append(retry, c)
		}
	}
	if len(retry) > 0 {
		if err := s.load(ctx, rdb); err != nil {
			return err
		}
		exec(retry)
	}
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
	}
	return nil
}
