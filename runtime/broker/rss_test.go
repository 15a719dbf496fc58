package broker

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
)

// childEnv makes the test binary run a broker instead of the tests: BenchmarkAttackRSS
// measures that process's memory from outside.
const childEnv = "MCORUN_BROKER_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

// runChild serves a broker with the default limits and one login (u/p) until stdin ends,
// after printing its address.
func runChild() int {
	b, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", Users: map[string]string{"u": "p"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(b.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = b.Close()
	return 0
}

// attack is one of the attack shapes against addr; it leaves its connections open
// until done is called, and may add figures of its own.
type attack func(b *testing.B, addr string, figures map[string]float64) (done func())

// BenchmarkAttackRSS gives the broker process's memory under the attack shapes of issue 16
// (go test -run XXX -bench AttackRSS -benchtime 1x ./runtime/broker): peak RSS and peak
// virtual size in MB, and for the idle connections how many are still open after 11 s.
func BenchmarkAttackRSS(b *testing.B) {
	for _, tc := range []struct {
		name string
		run  attack
	}{
		{"idle", func(*testing.B, string, map[string]float64) func() { return func() {} }},
		{"100MB_CONNECT", func(b *testing.B, addr string, _ map[string]float64) func() {
			return stream(b, addr, 1, "CONNECT\naccept-version:1.2\nlogin:", 100<<20)
		}},
		{"8x200MB_unfinished_SEND", func(b *testing.B, addr string, _ map[string]float64) func() {
			return stream(b, addr, 8, login+"SEND\ndestination:/exchange/x/y\ncontent-length:209715200\n\n", 200<<20-1)
		}},
		{"8x15MB_unfinished_SEND", func(b *testing.B, addr string, _ map[string]float64) func() {
			return stream(b, addr, 8, login+"SEND\ndestination:/exchange/x/y\ncontent-length:15728640\n\n", 15<<20-1)
		}},
		{"2x4GB_declared_CONNECT", func(b *testing.B, addr string, _ map[string]float64) func() {
			return stream(b, addr, 2, "CONNECT\naccept-version:1.2\ncontent-length:4294967295\n\n", 64<<20)
		}},
		{"2000_idle_connections", idleConns},
		{"slow_consumer", slowConsumer},
	} {
		b.Run(tc.name, func(b *testing.B) {
			figures := map[string]float64{}
			for range b.N {
				measure(b, tc.run, figures)
			}
			for unit, v := range figures {
				b.ReportMetric(v, unit)
			}
		})
	}
}

const login = "CONNECT\naccept-version:1.2\nlogin:u\npasscode:p\n\n\x00"

func measure(b *testing.B, run attack, figures map[string]float64) {
	cmd := exec.Command(os.Args[0], "-test.run=XXX")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	addr = strings.TrimSpace(addr)
	figures["idle-RSS-MB"] = procStatus(b, cmd.Process.Pid, "VmRSS")
	done := run(b, addr, figures)
	time.Sleep(500 * time.Millisecond)
	figures["peak-RSS-MB"] = procStatus(b, cmd.Process.Pid, "VmHWM")
	figures["peak-VM-MB"] = procStatus(b, cmd.Process.Pid, "VmPeak")
	done()
}

// procStatus returns a /proc/PID/status memory figure in MB.
func procStatus(b *testing.B, pid int, field string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// stream opens n connections, each writing prefix and then filler bytes until the broker
// closes it or it has written them all; the connections stay open until done.
func stream(b *testing.B, addr string, n int, prefix string, filler int) func() {
	var wg sync.WaitGroup
	conns := make([]net.Conn, n)
	for i := range conns {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = nc
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := io.WriteString(nc, prefix); err != nil {
				return
			}
			chunk := bytes.Repeat([]byte("x"), 1<<20)
			for left := filler; left > 0; left -= len(chunk) {
				if _, err := nc.Write(chunk[:min(left, len(chunk))]); err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return func() {
		for _, nc := range conns {
			_ = nc.Close()
		}
	}
}

// idleConns opens 2000 connections that send nothing, and counts those still open 11 s later
// (past the default CONNECT deadline).
func idleConns(b *testing.B, addr string, figures map[string]float64) func() {
	const n = 2000
	conns := make([]net.Conn, 0, n)
	for range n {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, nc)
	}
	time.Sleep(11 * time.Second)
	open := 0
	for _, nc := range conns {
		_ = nc.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := nc.Read(make([]byte, 1)); err != nil && strings.Contains(err.Error(), "timeout") {
			open++
		}
	}
	figures["open-after-11s"] = float64(open)
	return func() {
		for _, nc := range conns {
			_ = nc.Close()
		}
	}
}

// slowConsumer subscribes a client that never reads, and sends 2000 messages of 256 KiB
// (500 MB) to its destination.
func slowConsumer(b *testing.B, addr string, _ map[string]float64) func() {
	const dest = "/exchange/mcollective_broadcast/x"
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.WriteString(nc, login+"SUBSCRIBE\nid:1\ndestination:"+dest+"\nreceipt:r\n\n\x00"); err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReader(nc)
	for range 2 { // CONNECTED, RECEIPT
		if _, err := r.ReadString(0); err != nil {
			b.Fatal(err)
		}
	}
	sender, err := stomp.Dial("tcp", addr, stomp.ConnOpt.Login("u", "p"), stomp.ConnOpt.HeartBeat(0, 0), quiet)
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("z"), 256<<10)
	for range 2000 {
		if err := sender.Send(dest, "text/plain", body); err != nil {
			b.Fatal(err)
		}
	}
	if err := sender.Send("/exchange/nowhere/x", "text/plain", nil, stomp.SendOpt.Receipt); err != nil {
		b.Fatal(err)
	}
	return func() { _ = sender.Disconnect(); _ = nc.Close() }
}
