package wstest

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// BreakListener makes the listening TCP socket bound to addr in process pid fail for real, as a
// kernel or an administrator could: it takes a copy of the socket's descriptor (pidfd_getfd; a plain
// dup for this process) and shuts the socket down for reading. The socket leaves the LISTEN state, its
// poller reports it readable (hung up), and accept(2) on it fails with EINVAL: an error no server can
// retry. Linux 5.6 or later; another process needs ptrace access to pid (same user, or root).
func BreakListener(pid int, addr net.Addr) error {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return fmt.Errorf("BreakListener: %v is not a TCP address", addr)
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("BreakListener: pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil || !strings.HasPrefix(target, "socket:") {
			continue
		}
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fd, err := unix.PidfdGetfd(pidfd, n, 0)
		if err != nil {
			continue
		}
		if isListener(fd, ta) {
			err := unix.Shutdown(fd, unix.SHUT_RD)
			_ = unix.Close(fd)
			return err
		}
		_ = unix.Close(fd)
	}
	return fmt.Errorf("BreakListener: no listening socket on %v in process %d", addr, pid)
}

// isListener reports whether fd is a listening socket bound to addr.
func isListener(fd int, addr *net.TCPAddr) bool {
	if on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || on != 1 {
		return false
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return false
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return sa.Port == addr.Port && net.IP(sa.Addr[:]).Equal(addr.IP)
	case *unix.SockaddrInet6:
		return sa.Port == addr.Port && net.IP(sa.Addr[:]).Equal(addr.IP)
	}
	return false
}
