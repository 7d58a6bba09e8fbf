// Package e2e holds end-to-end tests: the real binary as a process, on a
// throwaway database, driven over HTTP by Go, a browser and a generated
// TypeScript client. The package itself has no code but this comment.
package e2e
