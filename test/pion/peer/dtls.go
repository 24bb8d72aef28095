// Plain pion/dtls endpoints for engine-to-engine interop tests: a server that accepts one session
// and a client that dials one; each prints what it receives and sends one line back.
package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"strconv"

	"github.com/pion/dtls/v2"
)

type dtlsFlags struct {
	address  *string
	pskHex   *string
	identity *string
	suite    *string
}

func parseDtlsFlags(mode string, args []string, addressFlag string) (dtlsFlags, *dtls.Config, *net.UDPAddr, error) {
	flags := flag.NewFlagSet(mode, flag.ExitOnError)
	f := dtlsFlags{
		address:  flags.String(addressFlag, "127.0.0.1:0", "UDP address"),
		pskHex:   flags.String("psk-hex", "", "PSK in hex"),
		identity: flags.String("identity", "", "identity hint (server) or identity (client)"),
		suite:    flags.String("suite", "0xc0a8", "cipher suite number"),
	}
	flags.Parse(args)
	psk, err := hex.DecodeString(*f.pskHex)
	if err != nil {
		return f, nil, nil, fmt.Errorf("-psk-hex: %v", err)
	}
	suite, err := strconv.ParseUint(*f.suite, 0, 16)
	if err != nil {
		return f, nil, nil, fmt.Errorf("-suite: %v", err)
	}
	addr, err := net.ResolveUDPAddr("udp", *f.address)
	if err != nil {
		return f, nil, nil, err
	}
	config := &dtls.Config{
		PSK: func(hint []byte) ([]byte, error) {
			fmt.Printf("peer identity hint %q\n", hint)
			return psk, nil
		},
		PSKIdentityHint:      []byte(*f.identity),
		CipherSuites:         []dtls.CipherSuiteID{dtls.CipherSuiteID(suite)},
		ExtendedMasterSecret: dtls.RequireExtendedMasterSecret,
	}
	return f, config, addr, nil
}

func runDtlsServer(args []string) error {
	_, config, addr, err := parseDtlsFlags("dtls-server", args, "listen")
	if err != nil {
		return err
	}
	listener, err := dtls.Listen("udp", addr, config)
	if err != nil {
		return err
	}
	fmt.Printf("listening on %s\n", listener.Addr())
	conn, err := listener.Accept()
	if err != nil {
		return err
	}
	return converse(conn.(*dtls.Conn))
}

func runDtlsClient(args []string) error {
	_, config, addr, err := parseDtlsFlags("dtls-client", args, "connect")
	if err != nil {
		return err
	}
	conn, err := dtls.Dial("udp", addr, config)
	if err != nil {
		return err
	}
	return converse(conn)
}

// converse reports the session, answers the first record with one of its own and prints every record.
func converse(conn *dtls.Conn) error {
	fmt.Printf("established, identity %q\n", conn.ConnectionState().IdentityHint)
	if _, err := conn.Write([]byte("from pion\n")); err != nil {
		return err
	}
	buf := make([]byte, 65535)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			fatal("read: %v", err)
		}
		fmt.Printf("pion got: %s\n", buf[:n])
	}
}
