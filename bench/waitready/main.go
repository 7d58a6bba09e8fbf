// Command waitready polls a URL until it answers 200 and prints how many
// milliseconds passed since a given start, for bench/run.sh's start-up
// timing. A curl per attempt from bash costs 5–10 ms of its own, which
// would be most of what is measured; this polls every millisecond from one
// process that is already running when the server starts.
//
//	waitready -since <unix ns> -timeout 120s http://127.0.0.1:18080/readyz
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	since := flag.Int64("since", 0, "start time in Unix nanoseconds (default: now)")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	pid := flag.Int("pid", 0, "fail as soon as this process has exited (0: don't watch)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: waitready [-since ns] [-timeout d] [-pid n] URL")
		os.Exit(2)
	}
	start := time.Now()
	if *since != 0 {
		start = time.Unix(0, *since)
	}
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	deadline := start.Add(*timeout)
	for time.Now().Before(deadline) {
		if resp, err := client.Get(flag.Arg(0)); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				fmt.Println(time.Since(start).Milliseconds())
				return
			}
		}
		if *pid != 0 && !alive(*pid) {
			fmt.Fprintf(os.Stderr, "waitready: process %d exited before %s answered 200\n", *pid, flag.Arg(0))
			os.Exit(1)
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "waitready: %s did not answer 200 within %s\n", flag.Arg(0), *timeout)
	os.Exit(1)
}
