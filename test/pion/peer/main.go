// Command pion-peer is meshboi's stand-in for an original Go meshboi member in tests: pion/dtls v2
// as the original uses it (one UDP socket, PSK with AES-128-CCM-8, Extended Master Secret
// required, the VPN IP as identity), and exiting non-zero on any read error, as the original does.
//
//	pion-peer member -rolodex HOST:PORT -network NAME -psk-file F -vpn-ip 192.168.50.9/24 [-listen ADDR] [-tun NAME]
//	pion-peer dtls-server -listen 127.0.0.1:PORT -psk-hex HEX -identity HINT [-suite 0xc0a8]
//	pion-peer dtls-client -connect 127.0.0.1:PORT -psk-hex HEX -identity ID [-suite 0xc0a8]
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pion-peer member|dtls-server|dtls-client [flags]")
		os.Exit(64)
	}
	var err error
	switch os.Args[1] {
	case "member":
		err = runMember(os.Args[2:])
	case "dtls-server":
		err = runDtlsServer(os.Args[2:])
	case "dtls-client":
		err = runDtlsClient(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pion-peer:", err)
		os.Exit(1)
	}
}

// fatal ends the process the way an original member's panic on a read error does: non-zero.
func fatal(format string, args ...interface{}) {
	fmt.Printf("FATAL "+format+"\n", args...)
	os.Exit(2)
}
