package agent

import (
	"context"
	"errors"
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
