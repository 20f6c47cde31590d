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

func result(n int, err error) (int, syscall.Errno) {
	if errno, ok := err.(syscall.Errno); ok {
		return 0, errno
	}
	if err != nil {
		return 0, syscall.EIO
	}
	return n, 0
}
