package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mcorun/mcorun/runtime/clock"
)

// SimService is one service of a simulated node, as a sandbox fleet file declares it.
type SimService struct {
	Name string
	// State is Running or Stopped; "" is Stopped.
	State string
	// FailStart makes start and restart fail, leaving the service stopped; FailMessage is
	// what the backend says ("" gives a generic message).
	FailStart   bool
	FailMessage string
	// RestartTime is how long a restart takes, waited on the agent's clock.
	RestartTime time.Duration
}

// sim is the simulated backend: services in memory, changed by the actions. A service it
// was not given does not exist: its status is stopped, as for a real unknown service, and
// changing it fails as systemctl does for a unit that is not found.
type sim struct {
	clock clock.Clock
	mu    sync.Mutex
	svcs  map[string]*SimService
}

func newSim(c clock.Clock, services []SimService) (*sim, error) {
	s := &sim{clock: c, svcs: map[string]*SimService{}}
	for _, svc := range services {
		switch svc.State {
		case "":
			svc.State = Stopped
		case Running, Stopped:
		default:
			return nil, fmt.Errorf("simulated service %q: state %q is neither running nor stopped: fix the fleet file", svc.Name, svc.State)
		}
		if svc.Name == "" {
			return nil, fmt.Errorf("a simulated service has no name: fix the fleet file")
		}
		if _, dup := s.svcs[svc.Name]; dup {
			return nil, fmt.Errorf("simulated service %q is declared twice: fix the fleet file", svc.Name)
		}
		s.svcs[svc.Name] = &svc
	}
	return s, nil
}

func (s *sim) Name() string { return "sim" }

// get returns a copy of a service, or an error when it does not exist.
func (s *sim) get(name string) (SimService, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, ok := s.svcs[name]
	if !ok {
		return SimService{}, fmt.Errorf("unit %s.service not found", name)
	}
	return *svc, nil
}

func (s *sim) set(name, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if svc, ok := s.svcs[name]; ok {
		svc.State = state
	}
}

func (s *sim) Status(ctx context.Context, name string) (string, error) {
	svc, err := s.get(name)
	if err != nil {
		return Stopped, nil
	}
	return svc.State, ctx.Err()
}

func (s *sim) Start(ctx context.Context, name string) error {
	svc, err := s.get(name)
	if err != nil {
		return err
	}
	if svc.FailStart {
		return startFailure(svc)
	}
	s.set(name, Running)
	return ctx.Err()
}

func (s *sim) Stop(ctx context.Context, name string) error {
	if _, err := s.get(name); err != nil {
		return err
	}
	s.set(name, Stopped)
	return ctx.Err()
}

func (s *sim) Restart(ctx context.Context, name string) error {
	svc, err := s.get(name)
	if err != nil {
		return err
	}
	s.set(name, Stopped)
	if err := clock.Sleep(ctx, s.clock, svc.RestartTime); err != nil {
		return fmt.Errorf("restart of %s interrupted: %w", name, err)
	}
	if svc.FailStart {
		return startFailure(svc)
	}
	s.set(name, Running)
	return nil
}

func startFailure(svc SimService) error {
	if svc.FailMessage != "" {
		return errors.New(svc.FailMessage)
	}
	return fmt.Errorf("job for %s.service failed because the control process exited with error code", svc.Name)
}
