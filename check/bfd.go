package check

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kt-project/kt/config"
)

// BFDCheck is keepalived's BFD_CHECK: the real server follows a BFD
// session, up while it is Up. It makes no attempts of its own: the
// Scheduler never runs it, and SetBFD gives it the session's state as the
// BFD engine reports it (keepalived's checker process reads the same
// events from its BFD process's pipe, check_bfd.c).
type BFDCheck struct {
	// Name is the bfd_instance.
	Name string
}

// Check is never called by the Scheduler; it says so.
func (c *BFDCheck) Check(context.Context) Result {
	return Result{Reason: "BFD_CHECK " + c.Name + " follows the BFD session's events"}
}

// String names the check: "BFD_CHECK NAME".
func (c *BFDCheck) String() string { return "BFD_CHECK " + c.Name }

// eventDriven reports whether a job only changes through events (SetBFD)
// and so has no timer.
func eventDriven(c Checker) bool {
	_, ok := c.(*BFDCheck)
	return ok
}

// bfdJobs adds a job per BFD_CHECK of rs: no retries, the first event
// decides (keepalived's update_svr_checker_state on each event), alpha
// from the checker, else the real server, else the virtual server.
func bfdJobs(jobs []Job, vs *config.VirtualServer, rs *config.RealServer, srv *Server) []Job {
	for _, c := range rs.BFDCheck() {
		if c.BFDName == "" {
			continue // the validator dropped it (keepalived skips it)
		}
		alpha := vs.Alpha
		switch {
		case c.Alpha != nil:
			alpha = *c.Alpha
		case rs.Alpha != nil:
			alpha = *rs.Alpha
		}
		jobs = append(jobs, Job{Server: srv, Checker: &BFDCheck{Name: c.BFDName}, DelayLoop: time.Hour, Retry: 0, Rise: 1, Alpha: alpha})
	}
	return jobs
}

// SetBFD gives a BFD session's state to every BFD_CHECK that follows it,
// as keepalived's bfd_check_handle_event does: a checker already in that
// state is left alone once it has had an event; otherwise the real server
// goes up or down with it (with its other checkers', as any checker's
// result does), logged as keepalived logs it. Safe from any goroutine.
func (s *Scheduler) SetBFD(name string, up bool) {
	word, reason := "DOWN", "BFD session "+name+" is down"
	if up {
		word, reason = "UP", "BFD session "+name+" is up"
	}
	r := Result{OK: up, Reason: reason}
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	var follow []*jobState
	s.mu.Lock()
	for _, js := range s.jobs {
		if b, ok := js.job.Checker.(*BFDCheck); ok && b.Name == name && !(js.up == up && js.hasRun) {
			follow = append(follow, js)
		}
	}
	s.mu.Unlock()
	for _, js := range follow {
		if s.opt.Logger != nil {
			s.opt.Logger.Info(fmt.Sprintf("BFD check of [%s] RS(%s) is %s", name, fmtRS(js.job.Server), word), "server", js.job.Server.Key)
		}
		if s.opt.OnResult != nil {
			s.opt.OnResult(&js.job, r)
		}
		s.mu.Lock()
		_, tr, changed := s.recordLocked(js, r)
		s.mu.Unlock()
		if changed {
			if s.opt.Logger != nil {
				s.opt.Logger.Info(tr.String(), "server", tr.Server.Key, "check", tr.Check, "weight", tr.Weight)
			}
			if s.opt.OnTransition != nil {
				s.opt.OnTransition(tr)
			}
		}
	}
}

// fmtRS names a real server as keepalived's FMT_RS does:
// "[192.0.2.10]:tcp:80".
func fmtRS(s *Server) string {
	if s.VirtualServer == nil || s.RealServer == nil {
		return s.Name
	}
	return "[" + s.RealServer.Address.Host + "]:" + strings.ToLower(s.VirtualServer.EffectiveProtocol()) + ":" + strconv.Itoa(s.RealServer.Address.Port)
}

// BFDNames lists the bfd_instances the scheduler's BFD_CHECKs follow.
func (s *Scheduler) BFDNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, js := range s.jobs {
		if b, ok := js.job.Checker.(*BFDCheck); ok && !seen[b.Name] {
			seen[b.Name] = true
			out = append(out, b.Name)
		}
	}
	return out
}
