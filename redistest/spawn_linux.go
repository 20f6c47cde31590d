package redistest

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// On Linux a child can ask to be killed when its parent dies, so servers do
// not outlive a test binary that crashed or hit its timeout. The signal
// fires when the *thread* that forked the child exits, and Go may retire
// threads, so every server is forked from one thread that is locked for the
// life of the process.
var (
	spawnOnce sync.Once
	spawnReqs chan spawnReq
)

type spawnReq struct {
	cmd  *exec.Cmd
	errc chan error
}

func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread must live on
			for req := range spawnReqs {
				req.errc <- req.cmd.Start()
			}
		}()
	})
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	errc := make(chan error, 1)
	spawnReqs <- spawnReq{cmd: cmd, errc: errc}
	return <-errc
}
