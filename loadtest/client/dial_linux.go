package client

import (
	"syscall"
)

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT (linux/in.h): with a source address set, the kernel
// picks the port at connect time from the whole 4-tuple, so ports in TIME_WAIT or used towards other
// destinations do not exhaust the source address.
const ipBindAddressNoPort = 24

// dialControl sets IP_BIND_ADDRESS_NO_PORT on client sockets.
func dialControl(network, _ string, rc syscall.RawConn) error {
	if network != "tcp4" {
		return nil
	}
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
