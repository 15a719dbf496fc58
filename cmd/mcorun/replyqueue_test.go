package main

import (
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/config"
)

func TestReplyQueue(t *testing.T) {
	parse := func(extra string) *config.Config {
		t.Helper()
		cfg, err := config.Parse(strings.NewReader("connector = rabbitmq\n"+extra), "client.cfg")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if n, err := replyQueue(parse("")); err != nil || n != defaultReplyQueue {
		t.Fatalf("default: %d, %v; want %d", n, err, defaultReplyQueue)
	}
	cfg := parse("plugin.mcorun.reply_queue = 50000\n")
	if n, err := replyQueue(cfg); err != nil || n != 50000 {
		t.Fatalf("set: %d, %v", n, err)
	}
	for _, w := range cfg.Warnings {
		if strings.Contains(w, "reply_queue") {
			t.Fatalf("a known key is warned about: %s", w)
		}
	}
	for _, bad := range []string{"10", "lots", "99999999"} {
		if _, err := replyQueue(parse("plugin.mcorun.reply_queue = " + bad + "\n")); err == nil || !strings.Contains(err.Error(), "plugin.mcorun.reply_queue") {
			t.Errorf("%s: %v, want an error naming the key", bad, err)
		}
	}
}
