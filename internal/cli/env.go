package cli

import (
	"io"
	"time"
)

// Env is what a command may touch of the outside world. Tests give it
// buffers, a map-backed getenv and, to move a server's time, a clock.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Now is the clock `serve` runs on; nil means time.Now.
	Now func() time.Time
}
