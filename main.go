// Command todo-api serves the todo REST API and manages its schema.
//
//	go run . serve            run the API (migrating first)
//	go run . migrate --help   the schema commands
package main

import (
	"os"

	"github.com/todo-api/todo-api/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr))
}
