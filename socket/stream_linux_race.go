//go:build linux && race

package socket

import "syscall"

// rawIO says that Stream makes its own system calls here.
const rawIO = true

// Under the race detector, Stream's calls go through syscall.Read and
// syscall.Write: they tell the detector which bytes the kernel read and
// wrote, and order the calls as net.Conn's are ordered, which raw system
// calls would hide from it. They also tell the runtime of each call, so
// a race build measures nothing about raw calls' speed.
func rawRead(fd uintptr, p []byte) (int, syscall.Errno) {
	return result(syscall.Read(int(fd), p))
}

func rawWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	return result(syscall.Write(int(fd), p))
}

// result gives syscall's (n, err) the raw calls' shape; err is nil or an
// Errno.
func result(n int, err error) (int, syscall.Errno) {
	if errno, _ := err.(syscall.Errno); errno != 0 {
		return 0, errno
	}
	return n, 0
}
