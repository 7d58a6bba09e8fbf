// Command soak is the Go half of bench/soak.sh: it drives the mixed load of
// a soak run and samples the service while it runs (load), judges the run
// afterwards (report), and draws its CSV (plot). bench/soak.sh builds it and
// runs the three in turn; it is its own module so that the plotting library
// stays out of the service's go.mod.
//
//	soak load   -base http://127.0.0.1:18090 -metrics http://127.0.0.1:19090/metrics -out DIR ...
//	soak report -in DIR [-grace 10s] [-md docs/soak.md]
//	soak plot   -in DIR -png docs/soak.png
//
// The files of a soak directory:
//
//	samples.csv   one row per interval: time, RSS, goroutines, connections, latency, counts
//	events.csv    unix_ms,event: the restarts bench/soak.sh did (begin and end of each)
//	errors.csv    every non-2xx answer and transport error: unix_ms, kind, status, method, path, detail
//	acked.txt     the ids of the creates answered 201 with an id, one per line
//	verify.txt    key=value: what the check of the acknowledged ids found
//	summary.txt   key=value: what report concluded
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "load":
		err = runLoad(os.Args[2:])
	case "report":
		err = runReport(os.Args[2:], os.Stdout)
	case "plot":
		err = runPlot(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: soak load|report|plot [flags] (see bench/soak.sh)")
	os.Exit(2)
}
