// 386 Linux has no recvfrom system call of its own (it goes through
// socketcall), so it takes the portable way.

//go:build unix && (!linux || 386)

package socket

import "syscall"

func peekFD(fd uintptr, buf *[1]byte) (int, error) {
	n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n, err
}
