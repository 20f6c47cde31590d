//go:build !unix

package redistest

import "os"

// Without job-control signals the process backend cannot pause a server.
var sigStop, sigCont os.Signal
