package kubetest

import "syscall"

// sysProcAttr: own process group; killed if the test binary dies, so no server outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
