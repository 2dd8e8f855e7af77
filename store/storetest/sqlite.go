package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"webchat/store"
)

// NewGraph opens a graph on a fresh SQLite file in t.TempDir(), closed in
// t.Cleanup. It is a real file, not ":memory:": every pooled connection to
// ":memory:" would be a different, empty database. To open a second Graph
// on one file, as another process would, use OpenGraph.
func NewGraph(t testing.TB) *store.Graph {
	t.Helper()
	return OpenGraph(t, filepath.Join(t.TempDir(), "graph.db"))
}

// OpenGraph opens a graph on the SQLite file at path, creating it if
// missing, closed in t.Cleanup. Open it twice to play two processes.
func OpenGraph(t testing.TB, path string) *store.Graph {
	t.Helper()
	g, err := store.OpenGraph(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatalf("open graph %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("close graph %s: %v", path, err)
		}
	})
	return g
}
