// Command benchrun is what `make bench` runs: it starts a redis-server,
// webchat node(s) and Nchan (nginx) on free loopback ports, runs the
// standard scenarios against webchat and Nchan in turns with the load
// generator, and renders docs/benchmarks.md from the results.
//
//	benchrun run -webchat bin/webchat -loadtest bin/loadtest -results loadtest/results
//	benchrun render -results loadtest/results -out docs/benchmarks.md
//	benchrun design -webchat bin/webchat -loadtest bin/loadtest   (POLL_WAIT=blmove against subscribe)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: benchrun run|render|design [flags]")
	}
	switch args[0] {
	case "run":
		return runBench(ctx, args[1:])
	case "render":
		return renderCmd(args[1:])
	case "design":
		return designCmd(ctx, args[1:])
	}
	return fmt.Errorf("unknown command %q: want run, render or design", args[0])
}
