package agent

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcorun/mcorun/runtime/ddl"
)

func TestLookupTimeout(t *testing.T) {
	d, err := ddl.BuiltinData("collective")
	if err != nil {
		t.Fatal(err)
	}
	p := &DataPlugin{DDL: d, Query: func(ctx context.Context, _ any) (map[string]any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = p.Lookup(ctx, "x")
	if !errors.Is(err, ErrDataTimeout) || err.Error() != "Data plugin collective_data timed out on query 'x'" {
		t.Errorf("Lookup = %v", err)
	}
}

// TestLookupWaitsForQuery checks that Lookup returns only once its Query has: a query that
// overruns its timeout still counts against whatever bounds the caller's concurrency.
func TestLookupWaitsForQuery(t *testing.T) {
	d, err := ddl.BuiltinData("collective")
	if err != nil {
		t.Fatal(err)
	}
	var ended atomic.Bool
	p := &DataPlugin{DDL: d, Query: func(ctx context.Context, _ any) (map[string]any, error) {
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // cleanup after the deadline
		ended.Store(true)
		return nil, ctx.Err()
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.Lookup(ctx, "x"); !errors.Is(err, ErrDataTimeout) {
		t.Fatalf("Lookup = %v, want a timeout", err)
	}
	if !ended.Load() {
		t.Fatal("Lookup returned while its query was still running")
	}
}
