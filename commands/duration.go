package commands

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// seconds is a duration flag's value: a Go duration ("1.5s", "200ms") or,
// as keepalived writes every timeout, bare seconds ("3", "0.5").
type seconds struct{ d time.Duration }

// parseSeconds reads a Go duration or bare seconds.
func parseSeconds(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f > float64(1<<62)/float64(time.Second) || f < -float64(1<<62)/float64(time.Second) {
			return 0, fmt.Errorf("%q: too many seconds", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want seconds (3, 0.5) or a duration (1.5s, 200ms)", s)
	}
	return d, nil
}

func (v *seconds) Set(s string) error {
	d, err := parseSeconds(s)
	if err != nil {
		return err
	}
	v.d = d
	return nil
}

func (v *seconds) String() string {
	if v == nil {
		return "0s"
	}
	return v.d.String()
}

// durationFlag is a flag that takes seconds or a Go duration; read it with
// flagDuration.
func durationFlag(name string, aliases []string, value time.Duration, usage string) *cli.GenericFlag {
	return &cli.GenericFlag{Name: name, Aliases: aliases, Value: &seconds{value}, Usage: usage}
}

// flagDuration is the value of a durationFlag.
func flagDuration(c *cli.Context, name string) time.Duration {
	if v, ok := c.Generic(name).(*seconds); ok && v != nil {
		return v.d
	}
	return 0
}
