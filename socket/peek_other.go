//go:build !unix

package socket

import "syscall"

// peekFD cannot ask the socket here; EAGAIN reads as "nothing to say".
func peekFD(uintptr, *[1]byte) (int, error) { return 0, syscall.EAGAIN }
