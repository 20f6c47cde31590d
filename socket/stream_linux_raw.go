//go:build linux && !race

package socket

import (
	"syscall"
	"unsafe"
)

// rawIO says that Stream makes its own system calls here.
const rawIO = true

// rawRead and rawWrite are read(2) and write(2) as raw system calls: Go's
// runtime is not told of them (see Stream). p is not empty.
func rawRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), errno
}

func rawWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), errno
}
