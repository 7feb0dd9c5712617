package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestCompileHTTPRegex: the options RE2 can honour are flags, the ones that
// only steer PCRE2 are accepted, and a pattern or option kt cannot run as
// PCRE2 would is refused with what is wrong.
func TestCompileHTTPRegex(t *testing.T) {
	for _, c := range []struct {
		pattern string
		opts    []string
		err     string // "" accepted
	}{
		{pattern: "status: up"},
		{pattern: "UP", opts: []string{"caseless", "dotall", "multiline", "ungreedy", "dollar_endonly", "alt_circumflex"}},
		{pattern: "up", opts: []string{"no_auto_capture", "no_start_optimize", "never_utf", "auto_callout", "no_such_option"}},
		{pattern: `\Qa\v\E`}, // \v quoted is a v
		{pattern: "\xe9t\xe9"},
		{pattern: "(a)\\1", err: "invalid escape sequence: `\\1`"},
		{pattern: "up(?=x)", err: "invalid or unsupported Perl syntax: `(?=`"},
		{pattern: "(?<=x)up", err: "invalid named capture: `(?<=x)up`"},
		{pattern: "(?>up)", err: "invalid or unsupported Perl syntax: `(?>`"},
		{pattern: "a*+", err: "invalid nested repetition operator: `*+`"},
		{pattern: `up\Z`, err: "invalid escape sequence: `\\Z`"},
		{pattern: "(up", err: "missing closing ): `(up`"},
		{pattern: strings.Repeat("a{1000}", 70), err: "more than kt's 65536"},
		{pattern: `a\vb`, err: `\v (PCRE2's vertical space class) is not supported by kt`},
		{pattern: "up # the word\n and more", opts: []string{"extended"}},
		{pattern: "( ?:up)", opts: []string{"extended"}, err: "white space inside a group's opening"},
		{pattern: "up", opts: []string{"utf"}, err: "regex_options utf"},
		{pattern: "up", opts: []string{"ucp"}, err: "regex_options ucp"},
		{pattern: "up", opts: []string{"firstline"}, err: "regex_options firstline"},
		{pattern: "up", opts: []string{"alt_bsux"}, err: "regex_options alt_bsux"},
		{pattern: "up", opts: []string{"allow_empty_class"}, err: "regex_options allow_empty_class"},
	} {
		re, err := CompileHTTPRegex(c.pattern, c.opts)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q %v: %v", c.pattern, c.opts, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q %v: error %v, want one saying %s", c.pattern, c.opts, err, c.err)
		case err == nil && (re.Prog == nil || re.Pattern != c.pattern):
			t.Errorf("%q: %+v", c.pattern, re)
		}
	}
}

// TestUnextend: PCRE2_EXTENDED's pattern written without it.
func TestUnextend(t *testing.T) {
	for in, want := range map[string]string{
		"up and running":          "upandrunning",
		"a +b":                    "a+b",
		"a # comment\nb # to end": "ab",
		"[ #]x":                   "[ #]x",
		"[] ]x":                   "[] ]x",
		"[^] ]x":                  "[^] ]x",
		"[[:space:] ]x":           "[[:space:] ]x",
		`a\ b\#c`:                 `a\x20b\#c`,
		`\Q a # b\E c`:            `\Q a # b\Ec`,
		"a{2}":                    "a{2}",
		"a{1, 2}":                 `a\{1,2}`,
		"a{1,}b{,2}":              `a{1,}b\{,2}`,
	} {
		got, err := unextend(in)
		if err != nil || got != want {
			t.Errorf("unextend(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestCompileHTTPRegexMarks: PCRE2's $ is marked, \z and dollar_endonly's
// $ are not; \b, \B and \A give the pattern a lookbehind.
func TestCompileHTTPRegexMarks(t *testing.T) {
	for _, c := range []struct {
		pattern    string
		opts       []string
		dollar     bool
		lookbehind int
	}{
		{pattern: "up$", dollar: true},
		{pattern: "$", dollar: true},
		{pattern: "(a$|b)c", dollar: true},
		{pattern: `up\z`},
		{pattern: "up$", opts: []string{"dollar_endonly"}},
		{pattern: "up$", opts: []string{"multiline"}},
		{pattern: "(?-m:up$)", opts: []string{"multiline"}, dollar: true},
		{pattern: `\bup`, lookbehind: 1},
		{pattern: `\Bup`, lookbehind: 1},
		{pattern: `\Aup`, lookbehind: 1},
		{pattern: `\Q\b\Eup`},
		{pattern: `^up`},
	} {
		re, err := CompileHTTPRegex(c.pattern, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if (re.Dollar != 0) != c.dollar || re.Lookbehind != c.lookbehind {
			t.Errorf("%q %v: dollar %d, lookbehind %d; want marked %v, lookbehind %d", c.pattern, c.opts, re.Dollar, re.Lookbehind, c.dollar, c.lookbehind)
		}
	}
}

// TestRegexWarnings: kt warns at the line of each regex keyword keepalived
// logs about (keepalived -t prints none of them: the input's golden file),
// and of each regex it will not run; none is an error.
func TestRegexWarnings(t *testing.T) {
	_, _, diags := effectiveOf(t, "lvs-regex.conf")
	var got []string
	for _, d := range diags {
		if d.Severity == Error {
			t.Errorf("error: %s", d)
		}
		got = append(got, fmt.Sprintf("%d %s", d.Pos.Line, d.Msg))
	}
	for _, want := range []string{
		"18 regex_stack: kt does not do this",
		"31 regex \"up(?=\\n)\": invalid or unsupported Perl syntax",
		"39 regex \"(a)\\1\": invalid escape sequence",
		"47 regex \"(up\": missing closing )",
		"56 unknown regex option no_such_option ignored",
		"56 regex_options utf",
		"66 regex parameters specified without regex",
		"70 regex min offset 50 > regex_max_offset 10 - ignoring",
	} {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, want)
		}
		if !found {
			t.Errorf("no warning %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if len(got) != 8 {
		t.Errorf("%d diagnostics, want 8:\n%s", len(got), strings.Join(got, "\n"))
	}
}

// TestRegexKeywordsAsKeepalived: a regex of more than one word is no regex
// (check_http.c regex_handler), and regex_options lines add up
// (regex_options_handler ORs them).
func TestRegexKeywordsAsKeepalived(t *testing.T) {
	c, diags, err := ParseKeepalivedBytes("regex.conf", []byte(`virtual_server 192.0.2.10 80 {
    real_server 198.51.100.2 80 {
        HTTP_GET {
            url {
                path /a
                regex up and running
            }
            url {
                path /b
                regex up
                regex_options caseless
                regex_options multiline
            }
        }
    }
}
`), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	urls := c.VirtualServers[0].RealServers[0].HTTPGet[0].URLs
	if urls[0].Regex() != "" {
		t.Errorf("regex of three words: %q, want none", urls[0].Regex())
	}
	if got := urls[1].RegexOptions().Args; strings.Join(got, " ") != "caseless multiline" {
		t.Errorf("regex_options %q, want both lines'", got)
	}
	if len(diags) != 1 || diags[0].Pos.Line != 6 || !strings.HasPrefix(diags[0].Msg, "regex missing or too many fields") {
		t.Errorf("diagnostics %v", diags)
	}
}
