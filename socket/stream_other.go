//go:build !linux

package socket

import "syscall"

// rawIO says that Stream leaves the system calls to net.Conn here.
const rawIO = false

func rawRead(uintptr, []byte) (int, syscall.Errno)  { return 0, syscall.ENOSYS }
func rawWrite(uintptr, []byte) (int, syscall.Errno) { return 0, syscall.ENOSYS }
