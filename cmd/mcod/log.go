package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/mcorun/mcorun/runtime/config"
)

// newLogger logs to the config's logfile, or to stderr when logger_type is console or no
// logfile is set. MCollective's levels map to slog's; fatal logs as error.
func newLogger(cfg *config.Config, override string, stderr io.Writer) (*slog.Logger, func(), error) {
	level := cfg.LogLevel
	if override != "" {
		level = override
	}
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "", "info":
		lv = slog.LevelInfo
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error", "fatal":
		lv = slog.LevelError
	default:
		return nil, nil, fmt.Errorf("loglevel %q is not one of debug, info, warn, error, fatal", level)
	}
	w, closeFn := stderr, func() {}
	if logsToFile(cfg) {
		f, err := os.OpenFile(cfg.LogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot open logfile: %w (set logfile to a writable path, or logger_type = console)", err)
		}
		w, closeFn = f, func() { f.Close() }
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv})), closeFn, nil
}

// logsToFile reports whether mcod logs to the config's logfile rather than to stderr.
func logsToFile(cfg *config.Config) bool { return cfg.LogFile != "" && cfg.LoggerType != "console" }
