package journal

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValueRoundTrip(t *testing.T) {
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	in := map[string]any{
		"s": "x", "i": int64(-3), "f": 1.0, "g": 2.5, "n": nil, "b": true, "big": big1,
		"list": []any{int64(1), "a", []any{}, map[string]any{}}, "nan": math.NaN(), "inf": math.Inf(-1),
	}
	raw, err := EncodeValue(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeValue(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := out.(map[string]any)
	if f, ok := m["f"].(float64); !ok || f != 1.0 {
		t.Errorf("f = %#v, want float64 1", m["f"])
	}
	if i, ok := m["i"].(int64); !ok || i != -3 {
		t.Errorf("i = %#v, want int64 -3", m["i"])
	}
	if b, ok := m["big"].(*big.Int); !ok || b.Cmp(big1) != 0 {
		t.Errorf("big = %#v", m["big"])
	}
	if f, ok := m["nan"].(float64); !ok || !math.IsNaN(f) {
		t.Errorf("nan = %#v", m["nan"])
	}
	if f, ok := m["inf"].(float64); !ok || !math.IsInf(f, -1) {
		t.Errorf("inf = %#v", m["inf"])
	}
	delete(m, "nan")
	delete(in, "nan")
	in["big"], m["big"] = big1.String(), m["big"].(*big.Int).String()
	if !reflect.DeepEqual(in, m) {
		t.Errorf("round trip:\n got %#v\nwant %#v", m, in)
	}
	// the same value always encodes the same way: calls are matched by their encoding
	again, _ := EncodeValue(in)
	again2, _ := EncodeValue(in)
	if !bytes.Equal(again, again2) {
		t.Errorf("encoding is not stable: %s vs %s", again, again2)
	}
	if _, err := EncodeValue(struct{}{}); err == nil {
		t.Error("a struct encoded; want an error")
	}
}

func write(t *testing.T, dir string) {
	t.Helper()
	w, err := Create(dir, Header{RunID: "r1", Playbook: "p.star", Path: "/x/p.star", SHA256: "ab"})
	if err != nil {
		t.Fatal(err)
	}
	call := &Call{Kind: "rpc", Agent: "puppet", Action: "runonce", Nodes: []string{"a"}}
	for _, r := range []Record{
		{Type: TypeSent, Call: call},
		{Type: TypeDone, Call: call, Outcome: &Outcome{Targets: []string{"a"}, OK: []string{"a"}},
			Result: &Result{OK: []Reply{{Sender: "a", Message: "OK", Data: []byte(`{"x":1}`)}}}},
	} {
		if err := w.Write(r, r.Type == TypeSent); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	var events []Record
	w, err := Create(dir, Header{RunID: "r1", Source: "secret source"}, func(r Record) { events = append(events, r.Event()) })
	if err != nil {
		t.Fatal(err)
	}
	call := &Call{Kind: "discover"}
	_ = w.Write(Record{Type: TypeSent, Call: call}, true)
	_ = w.Write(Record{Type: TypeDone, Call: call, Result: &Result{Nodes: []string{"a"}}, Outcome: &Outcome{Targets: []string{"a"}}}, false)
	_ = w.Write(Record{Type: TypeEnd, End: &End{Status: "ok"}}, false)
	_ = w.Close()
	j, err := ReadFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if j.Header.RunID != "r1" || j.Header.Version != Version || len(j.Records) != 3 || j.End() == nil || j.Truncated {
		t.Fatalf("read %+v", j)
	}
	if got := j.Records[1].Result.Nodes; !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("result nodes %v", got)
	}
	if len(events) != 4 || events[0].Header.Source != "" || events[2].Result != nil || events[2].Outcome == nil {
		t.Errorf("events carry results or source: %+v", events)
	}
}

func TestReadTruncatedAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	write(t, dir)
	path := filepath.Join(dir, FileName)
	full, _ := os.ReadFile(path)
	// a crash in the middle of the last line: read up to the last complete record
	cut := full[:len(full)-10]
	j, err := Read(bytes.NewReader(cut))
	if err != nil {
		t.Fatalf("truncated: %v", err)
	}
	if !j.Truncated || len(j.Records) != 1 || j.Records[0].Type != TypeSent {
		t.Errorf("truncated journal read as %+v", j)
	}
	lines := strings.SplitAfter(string(full), "\n")
	for name, text := range map[string]string{
		"middle line broken": lines[0] + "{not json\n" + lines[2],
		"no header":          lines[1] + lines[2],
		"empty":              "",
		"out of order":       lines[0] + lines[2] + lines[1],
		"unknown type":       lines[0] + `{"type":"boom","seq":1}` + "\n",
		"bad version":        strings.Replace(lines[0], `"version":1`, `"version":9`, 1),
		"header cut":         lines[0][:20],
	} {
		if _, err := Read(strings.NewReader(text)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
}

func TestListLastPrune(t *testing.T) {
	base := t.TempDir()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ids := []string{NewID(t0), NewID(t0.Add(time.Hour)), NewID(t0.Add(2 * time.Hour))}
	for i, id := range ids {
		w, err := Create(filepath.Join(base, id), Header{RunID: id, Playbook: "p.star", Path: "/p.star"})
		if err != nil {
			t.Fatal(err)
		}
		c := &Call{Kind: "rpc", Agent: "a", Action: "b"}
		_ = w.Write(Record{Type: TypeSent, Call: c}, true)
		if i != 1 {
			_ = w.Write(Record{Type: TypeEnd, End: &End{Status: "ok"}}, false)
		}
		_ = w.Close()
	}
	if err := os.WriteFile(filepath.Join(base, "junk"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	runs, err := List(base)
	if err != nil || len(runs) != 3 {
		t.Fatalf("List: %v %+v", err, runs)
	}
	if runs[0].ID != ids[2] || runs[1].Status != StatusUnfinished || runs[1].Stopped != "rpc a.b (sent, not completed)" {
		t.Errorf("List: %+v", runs)
	}
	// the newest run ended ok: nothing to resume
	if s, err := Last(base, "/p.star", true); err != nil || s != nil || !runs[1].Resumable || runs[0].Resumable {
		t.Errorf("Last = %+v, %v; want none", s, err)
	}
	removed, err := Prune(base, 1, 0, time.Now(), ids[0])
	if err != nil || !reflect.DeepEqual(removed, []string{ids[1]}) {
		t.Errorf("Prune = %v, %v; want %v", removed, err, ids[1:2])
	}
	removed, err = Prune(base, 0, time.Nanosecond, time.Now().Add(time.Hour), "")
	if err != nil || len(removed) != 2 {
		t.Errorf("Prune by age = %v, %v", removed, err)
	}
	if _, err := RunDir(base, "../x"); err == nil {
		t.Error("RunDir accepted ../x")
	}
}

func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	w, _ := Create(dir, Header{RunID: "r"})
	c := &Call{Kind: "rpc", Args: []byte(`{"a":{"$float":"1"}}`)}
	_ = w.Write(Record{Type: TypeSent, Call: c}, false)
	_ = w.Write(Record{Type: TypeDone, Call: c, Result: &Result{OK: []Reply{{Sender: "x", Data: []byte(`[1,{"$float":"NaN"}]`)}}}}, false)
	_ = w.Close()
	b, _ := os.ReadFile(filepath.Join(dir, FileName))
	f.Add(b)
	f.Add(b[:len(b)-3])
	f.Add([]byte(`{"type":"header","header":{"version":1,"run_id":"x"}}` + "\n" + `{"type":"now","seq":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, r := range j.Records {
			if r.Call != nil {
				_, _ = DecodeValue(r.Call.Args)
			}
			if r.Result != nil {
				for _, rep := range append(r.Result.OK, r.Result.Failed...) {
					_, _ = DecodeValue(rep.Data)
				}
			}
		}
	})
}
