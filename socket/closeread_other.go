//go:build !linux

package socket

// closeReadKeeps: see CloseRead.
const closeReadKeeps = false
