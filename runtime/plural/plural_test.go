package plural

import "testing"

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "0 batches"}, {1, "1 batch"}, {2, "2 batches"}, {-1, "-1 batch"}, {11, "11 batches"},
	} {
		if got := Count(tc.n, "batch", "batches"); got != tc.want {
			t.Errorf("Count(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if got := Word(1, "node", "nodes"); got != "node" {
		t.Errorf("Word(1) = %q", got)
	}
}
