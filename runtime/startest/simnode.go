package startest

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"go.starlark.net/starlark"

	pkgagent "github.com/mcorun/mcorun/agents/package"
	"github.com/mcorun/mcorun/agents/service"
	"github.com/mcorun/mcorun/starlib"
)

// simServices reads node()'s services=: a dict from service name to its state ("running"
// or "stopped") or to a dict {state, fail_start, fail_message, restart_time}.
func simServices(fn string, d *starlark.Dict) ([]service.SimService, error) {
	if d == nil {
		return nil, nil
	}
	v, err := starlib.FromStarlark(d)
	if err != nil {
		return nil, fmt.Errorf("%s: services: %w", fn, err)
	}
	m, _ := v.(map[string]any)
	var out []service.SimService
	for _, name := range slices.Sorted(maps.Keys(m)) {
		s := service.SimService{Name: name}
		switch x := m[name].(type) {
		case string:
			s.State = x
		case map[string]any:
			for k, val := range x {
				var ok bool
				switch k {
				case "state":
					s.State, ok = val.(string)
				case "fail_start":
					s.FailStart, ok = val.(bool)
				case "fail_message":
					s.FailMessage, ok = val.(string)
				case "restart_time":
					var str string
					if str, ok = val.(string); ok {
						d, err := time.ParseDuration(str)
						s.RestartTime, ok = d, err == nil && d >= 0
					}
				default:
					return nil, fmt.Errorf("%s: services: %s: unknown key %q (state, fail_start, fail_message, restart_time)", fn, name, k)
				}
				if !ok {
					return nil, fmt.Errorf("%s: services: %s: bad %s %v", fn, name, k, val)
				}
			}
		default:
			return nil, fmt.Errorf("%s: services: %s: want a state or a dict, got %T", fn, name, x)
		}
		if s.State == "" {
			s.State = service.Running
		}
		out = append(out, s)
	}
	return out, nil
}

// simPackages reads node()'s packages=: a dict from package name to its installed version
// ("" for none) or to a dict {installed, available, fail}.
func simPackages(fn string, d *starlark.Dict) (pkgagent.SimConfig, error) {
	cfg := pkgagent.SimConfig{Packages: map[string]pkgagent.SimPackage{}}
	if d == nil {
		return cfg, nil
	}
	v, err := starlib.FromStarlark(d)
	if err != nil {
		return cfg, fmt.Errorf("%s: packages: %w", fn, err)
	}
	m, _ := v.(map[string]any)
	for name, val := range m {
		var p pkgagent.SimPackage
		switch x := val.(type) {
		case string:
			p.Installed = x
		case map[string]any:
			for k, kv := range x {
				var ok bool
				switch k {
				case "installed":
					p.Installed, ok = kv.(string)
				case "fail":
					p.Fail, ok = kv.(string)
				case "available":
					var list []any
					if list, ok = kv.([]any); ok {
						for _, e := range list {
							s, isStr := e.(string)
							ok = ok && isStr
							p.Available = append(p.Available, s)
						}
					}
				default:
					return cfg, fmt.Errorf("%s: packages: %s: unknown key %q (installed, available, fail)", fn, name, k)
				}
				if !ok {
					return cfg, fmt.Errorf("%s: packages: %s: bad %s %v", fn, name, k, kv)
				}
			}
		default:
			return cfg, fmt.Errorf("%s: packages: %s: want a version or a dict, got %T", fn, name, x)
		}
		if p.Installed != "" && !slices.Contains(p.Available, p.Installed) {
			p.Available = append([]string{p.Installed}, p.Available...)
		}
		cfg.Packages[name] = p
	}
	return cfg, nil
}
