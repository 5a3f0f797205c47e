// Package cmdline holds what the interop programs (franz, sarama) share:
// their facts printed one per line, failing with a message, and their
// command line, which is either a run with named arguments or
// `delete BOOTSTRAP TOPIC`.
package cmdline

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

var outMu sync.Mutex

// Line prints one fact, never interleaved with another.
func Line(words ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Println(words...)
}

// Program is the name of a running interop program, which prefixes its
// failures.
type Program string

// Fail reports what went wrong and exits non-zero, so the test shows it.
func (p Program) Fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, string(p)+": "+format+"\n", args...)
	os.Exit(1)
}

// Args are the arguments of a run, by parameter name.
type Args struct {
	program Program
	values  map[string]string
}

// Command reads the command line, which is either `run PARAMS...` (one
// argument for each parameter) or `delete BOOTSTRAP TOPIC`. For delete it
// calls deleteTopic and reports false; for the run it returns the
// arguments and true. A command line that is neither fails with the usage.
func (p Program) Command(run string, params []string, deleteTopic func(bootstrap, topic string)) (Args, bool) {
	if len(os.Args) == 4 && os.Args[1] == "delete" {
		deleteTopic(os.Args[2], os.Args[3])
		return Args{}, false
	}
	if len(os.Args) != len(params)+2 || os.Args[1] != run {
		p.Fail("usage: %s %s %s | delete BOOTSTRAP TOPIC", p, run, strings.Join(params, " "))
	}
	values := make(map[string]string, len(params))
	for i, param := range params {
		values[param] = os.Args[i+2]
	}
	return Args{program: p, values: values}, true
}

// Get is the argument of parameter name.
func (a Args) Get(name string) string {
	return a.values[name]
}

// Int is the argument of parameter name as a whole number; another
// argument fails the program.
func (a Args) Int(name string) int {
	n, err := strconv.Atoi(a.values[name])
	if err != nil {
		a.program.Fail("%s: %v", name, err)
	}
	return n
}
