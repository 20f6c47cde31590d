//go:build linux && !386

package socket

import (
	"syscall"
	"unsafe"
)

// peekFD is recvfrom(MSG_PEEK|MSG_DONTWAIT) into buf, called directly:
// syscall.Recvfrom would build a Sockaddr for every call.
func peekFD(fd uintptr, buf *[1]byte) (int, error) {
	n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
