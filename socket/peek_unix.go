//go:build unix && !linux

package socket

import "syscall"

func peekFD(fd uintptr, buf *[1]byte) (int, error) {
	n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n, err
}
