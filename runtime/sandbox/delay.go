package sandbox

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/connector"
	"github.com/mcorun/mcorun/runtime/server"
)

// z99 is the standard normal's 99th percentile.
const z99 = 2.3263478740408408

// Delay is a reply delay distribution: a lognormal with median P50 and 99th percentile
// P99, drawn repeatably from Seed and the node's index, so that a run can be repeated
// draw for draw. A Slow fraction of the nodes (picked by the same seed) instead waits
// between SlowMin and SlowMax on every reply: a slow tail such as overloaded hosts.
type Delay struct {
	P50, P99         time.Duration
	Seed             uint64
	Slow             float64 // 0 to 1
	SlowMin, SlowMax time.Duration
}

// Check reports a distribution that cannot be drawn from.
func (d Delay) Check() error {
	switch {
	case d.P50 < 0 || d.P99 < 0 || d.SlowMin < 0 || d.SlowMax < 0:
		return fmt.Errorf("reply delay: durations must not be negative")
	case d.P99 < d.P50:
		return fmt.Errorf("reply delay: p99 %v is below p50 %v: give a p99 at least as large", d.P99, d.P50)
	case d.P99 > 0 && d.P50 == 0:
		return fmt.Errorf("reply delay: a p99 needs a p50 above zero")
	case d.Slow < 0 || d.Slow > 1:
		return fmt.Errorf("reply delay: the slow fraction must be between 0 and 1, got %v", d.Slow)
	case d.SlowMax < d.SlowMin:
		return fmt.Errorf("reply delay: slow maximum %v is below its minimum %v", d.SlowMax, d.SlowMin)
	}
	return nil
}

// sampler returns the delay draws of node index. It is safe for concurrent use.
func (d Delay) sampler(index int) func() time.Duration {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(d.Seed, uint64(index)))
	slow := d.Slow > 0 && rng.Float64() < d.Slow
	mu2, sigma := 0.0, 0.0
	if d.P50 > 0 {
		mu2 = math.Log(float64(d.P50))
		sigma = (math.Log(float64(d.P99)) - mu2) / z99
	}
	return func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		if slow {
			return d.SlowMin + time.Duration(rng.Float64()*float64(d.SlowMax-d.SlowMin))
		}
		if d.P50 <= 0 {
			return 0
		}
		return time.Duration(math.Exp(mu2 + sigma*rng.NormFloat64()))
	}
}

// delayed is a node's transport that waits a draw of its delay before each reply. Only the
// network's timing changes: what the node sends is the real pipeline's.
type delayed struct {
	server.Transport
	draw func() time.Duration
}

func (t delayed) Send(ctx context.Context, dest string, body []byte, h connector.SendHeaders) error {
	if err := clock.Sleep(ctx, clock.Real{}, t.draw()); err != nil {
		return err
	}
	return t.Transport.Send(ctx, dest, body, h)
}
