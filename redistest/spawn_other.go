//go:build !linux

package redistest

import "os/exec"

// Elsewhere there is no parent-death signal; t.Cleanup stops the server.
func spawn(cmd *exec.Cmd) error { return cmd.Start() }
