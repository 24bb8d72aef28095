// A Linux TUN device without packet information, configured with `ip`, as the original's.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"unsafe"
)

type tunDevice struct{ file *os.File }

func openTun(name, cidr string) (*tunDevice, error) {
	file, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	var request [40]byte
	copy(request[:16], name)
	const iffTun, iffNoPi = 0x0001, 0x1000
	*(*uint16)(unsafe.Pointer(&request[16])) = iffTun | iffNoPi
	const tunSetIff = 0x400454ca
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, file.Fd(), tunSetIff, uintptr(unsafe.Pointer(&request[0]))); errno != 0 {
		file.Close()
		return nil, fmt.Errorf("TUNSETIFF %s: %v", name, errno)
	}
	for _, args := range [][]string{{"addr", "add", cidr, "dev", name}, {"link", "set", name, "mtu", "1200", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			file.Close()
			return nil, fmt.Errorf("ip %v: %v: %s", args, err, out)
		}
	}
	return &tunDevice{file: file}, nil
}

func (t *tunDevice) write(packet []byte, _ *peer) error {
	_, err := t.file.Write(packet)
	return err
}

func (t *tunDevice) readLoop(route func([]byte)) {
	buf := make([]byte, 65535)
	for {
		n, err := t.file.Read(buf)
		if err != nil {
			fatal("TUN read: %v", err)
		}
		route(buf[:n])
	}
}
