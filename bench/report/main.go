// Command report turns the raw output of one bench/run.sh run into the
// generated part of docs/benchmarks.md: it parses the wrk output (and the
// status counts bench/lua/common.lua adds), the pgbench output, the
// start-up times, /proc figures, /metrics pages and EXPLAIN output, takes
// medians over the repeated runs, checks the performance targets and
// renders the Markdown with text/template (results.md.tmpl).
//
//	go run ./bench/report -in bench/results/<UTC time> -out docs/benchmarks.md
//
// The text of -out outside the generated-results markers is kept; a file
// without them gets the results appended, and "-" prints them.
//
// The results directory, as bench/run.sh writes it:
//
//	meta.txt                        key=value: settings, machine, versions, start and end (Unix seconds)
//	<scale>/                        large (1M rows) or small (10k rows)
//	  data.txt                      key=value: what the seeded table holds
//	  auth.txt                      key=value: probe_requests, users_reads, ceiling_lookup
//	  startup-ms.txt                start-up to ready, one sample per line
//	  status-idle.txt               /proc/<server>/status after start-up
//	  <scenario>-wrk-<n>.txt        wrk output of timed run n
//	  <scenario>-pgbench-<n>.txt    pgbench output of run n
//	  <scenario>-cpu-<n>.txt        cpu_ticks=: server CPU over wrk run n
//	  <scenario>-metrics-before.txt, <scenario>-metrics-after.txt   /metrics around the runs
//	  mix-rss-kb-<n>.txt            VmRSS (kB) every 100 ms of mix run n
//	  mix-status.txt                /proc/<server>/status after the mix runs
//	  explain.md                    bench/explain.sql output
//	  server.log.kept               the server log without access lines
//
// and, with the other builds (OLD_REV=, PEER=1, FLOOR=1):
//
//	<scenario>-<build>-wrk-<n>.txt  wrk output of run n against build old, peer, or floor (get only: /healthz)
//	<scenario>-<build>-skipped.txt  code=: the status that made run.sh skip the build in the scenario
//	startup-<build>-ms.txt          start-up samples of build old or peer
//	data-old.txt                    the old build's seeded table
//	server-old.log.kept, peer.log.kept   their logs without access lines
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("report", flag.ContinueOnError)
	fl.SetOutput(stderr)
	in := fl.String("in", "", "results directory of one bench/run.sh run")
	out := fl.String("out", "-", "document to write the results into (- for stdout)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *in == "" || fl.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: report -in bench/results/<run> [-out docs/benchmarks.md]")
		return 2
	}
	if err := report(*in, *out, stdout); err != nil {
		fmt.Fprintln(stderr, "report:", err)
		return 1
	}
	return 0
}

func report(in, out string, stdout io.Writer) error {
	r, err := Load(in)
	if err != nil {
		return err
	}
	generated, err := Render(r)
	if err != nil {
		return err
	}
	if out == "-" {
		_, err := io.WriteString(stdout, generated)
		return err
	}
	old, err := os.ReadFile(out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// Written next to the document and renamed over it, so a failed write
	// never leaves half a document.
	tmp, err := os.CreateTemp(filepath.Dir(out), ".report-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.WriteString(tmp, Splice(string(old), generated)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
