package match

import (
	"fmt"
	"strings"

	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

// Filters run before authorization, so whoever can reach a node's queues chooses the work a
// filter makes the node do. These limits bound it. They are far above what any mco filter
// needs: a host name regex is tens of bytes, and a forced list of 10,000 node names without
// direct addressing is about 300 KB.
const (
	// MaxRegexSource bounds one regular expression's source, in bytes.
	MaxRegexSource = 4096
	// MaxRegexProgram bounds the compiled program of one regular expression, in
	// instructions: x{1000} is short to write but compiles to 1000 of them.
	MaxRegexProgram = 10_000
	// MaxFilterRegexBytes bounds the sources of all the regular expressions of one filter.
	MaxFilterRegexBytes = 32 << 10
	// MaxFilterBytes bounds every string of one filter together.
	MaxFilterBytes = 1 << 20
)

// ErrTooLarge marks a filter over one of the limits above. It also wraps ErrMalformed: a
// filter too large to evaluate never matches.
var ErrTooLarge = fmt.Errorf("%w: too large", ErrMalformed)

// CheckSize refuses a filter over MaxFilterBytes or MaxFilterRegexBytes before anything of it
// is compiled or evaluated.
func CheckSize(f message.Filter) error {
	var total, regex int
	add := func(s string, isRegex bool) {
		total += len(s)
		if isRegex {
			regex += len(s)
		}
	}
	for _, ff := range f.Fact {
		add(ff.Fact, false)
		add(ff.Operator, false)
		add(ff.Value, ff.Operator == "=~" || strings.HasPrefix(ff.Value, "/"))
	}
	for _, list := range [][]string{f.CFClass, f.Agent, f.Identity} {
		for _, s := range list {
			add(s, IsRegex(s))
		}
	}
	for _, expr := range f.Compound {
		for _, it := range expr {
			add(it.Value, strings.Contains(it.Value, "/"))
			if dc := it.Func; dc != nil {
				add(dc.Name, false)
				add(dc.Value, false)
				add(dc.Operator, false)
				if p, ok := dc.Params.(string); ok {
					add(p, false)
				}
				switch r := dc.RCompare.(type) {
				case string:
					add(r, strings.Contains(dc.Operator, "~"))
				case marshal.Regexp:
					add(r.Source, true)
				case *marshal.Regexp:
					if r != nil {
						add(r.Source, true)
					}
				}
			}
		}
	}
	switch {
	case total > MaxFilterBytes:
		return fmt.Errorf("%w: the filter holds %d bytes, over the limit of %d", ErrTooLarge, total, MaxFilterBytes)
	case regex > MaxFilterRegexBytes:
		return fmt.Errorf("%w: the filter's regular expressions hold %d bytes, over the limit of %d", ErrTooLarge, regex, MaxFilterRegexBytes)
	}
	return nil
}

// errRegexTooLarge is the error for one regular expression over a limit.
func errRegexTooLarge(what string, n, limit int) error {
	return fmt.Errorf("%w: a regular expression of %d %s, over the limit of %d", ErrTooLarge, n, what, limit)
}
