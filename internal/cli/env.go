package cli

import "io"

// Env is what a command may touch of the outside world. Tests give it
// buffers and a map-backed getenv.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}
