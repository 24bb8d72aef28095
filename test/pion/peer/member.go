// The original member's behaviour: heartbeats to the rolodex every 5 s, the role rule (the larger
// outside address is the DTLS server), the server's plain `hello`, the client's wait of up to 1 s,
// handshakes one at a time, a session per address kept for the life of the process, and every
// received packet written to the TUN device (or, without one, ICMP echo answered in process).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/pion/dtls/v2"
)

type networkMap struct {
	Addresses []string
	YourIndex int
}

type peer struct {
	vpnIP   string
	outside string
	conn    *dtls.Conn
}

type member struct {
	network string
	psk     []byte
	vpnIP   net.IP
	mux     *mux
	device  packetDevice

	mu      sync.Mutex
	self    *net.UDPAddr
	byAddr  map[string]*peer
	byVpnIP map[string]*peer
	maps    chan networkMap
}

// packetDevice is where received packets go: a TUN device, or the in-process echo responder.
type packetDevice interface {
	write(packet []byte, from *peer) error
}

func runMember(args []string) error {
	flags := flag.NewFlagSet("member", flag.ExitOnError)
	rolodex := flags.String("rolodex", "127.0.0.1:6264", "rolodex HOST:PORT")
	network := flags.String("network", "", "network name")
	pskFile := flags.String("psk-file", "", "file holding the PSK (used as typed, trailing newline removed)")
	vpn := flags.String("vpn-ip", "", "VPN address with prefix, e.g. 192.168.50.9/24")
	listen := flags.String("listen", "0.0.0.0:0", "local UDP address")
	tunName := flags.String("tun", "", "TUN device to create; without it ICMP echo requests are answered in process")
	flags.Parse(args)

	pskText, err := os.ReadFile(*pskFile)
	if err != nil {
		return err
	}
	vpnIP, vpnNet, err := net.ParseCIDR(*vpn)
	if err != nil {
		return fmt.Errorf("-vpn-ip: %v", err)
	}
	rolodexAddr, err := net.ResolveUDPAddr("udp", *rolodex)
	if err != nil {
		return err
	}
	localAddr, err := net.ResolveUDPAddr("udp", *listen)
	if err != nil {
		return err
	}
	socket, err := net.ListenUDP("udp", localAddr)
	if err != nil {
		return err
	}
	m := &member{
		network: *network,
		psk:     bytes.TrimRight(pskText, "\r\n"),
		vpnIP:   vpnIP,
		byAddr:  map[string]*peer{},
		byVpnIP: map[string]*peer{},
		maps:    make(chan networkMap, 16),
	}
	m.mux = newMux(socket, rolodexAddr, m.onRolodex)
	if *tunName != "" {
		prefix, _ := vpnNet.Mask.Size()
		tun, err := openTun(*tunName, fmt.Sprintf("%s/%d", vpnIP, prefix))
		if err != nil {
			return err
		}
		m.device = tun
		go tun.readLoop(m.route)
	} else {
		m.device = &echoResponder{vpnIP: vpnIP.To4()}
	}
	fmt.Printf("listening on %s as %s\n", socket.LocalAddr(), vpnIP)

	go m.mux.readLoop()
	go m.acceptLoop()
	go m.connectLoop()
	go m.heartbeat()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	fmt.Println("stopping")
	return nil
}

func (m *member) config() *dtls.Config {
	return &dtls.Config{
		PSK:                  func([]byte) ([]byte, error) { return m.psk, nil },
		PSKIdentityHint:      []byte(m.vpnIP.String()),
		CipherSuites:         []dtls.CipherSuiteID{dtls.TLS_PSK_WITH_AES_128_CCM_8},
		ExtendedMasterSecret: dtls.RequireExtendedMasterSecret,
	}
}

func (m *member) heartbeat() {
	beat, _ := json.Marshal(map[string]string{"NetworkName": m.network})
	for {
		if _, err := m.mux.socket.WriteToUDP(beat, m.mux.rolodex); err != nil {
			fmt.Println("heartbeat:", err)
		}
		time.Sleep(5 * time.Second)
	}
}

func (m *member) onRolodex(datagram []byte) {
	var update networkMap
	if err := json.Unmarshal(datagram, &update); err != nil || update.YourIndex < 0 || update.YourIndex >= len(update.Addresses) {
		fmt.Println("bad map from the rolodex:", err)
		return
	}
	select {
	case m.maps <- update:
	default:
	}
}

// connectLoop handles maps one at a time, dialling as client one peer after another, as the original does.
func (m *member) connectLoop() {
	for update := range m.maps {
		self, err := net.ResolveUDPAddr("udp", update.Addresses[update.YourIndex])
		if err != nil {
			continue
		}
		m.mu.Lock()
		m.self = self
		m.mu.Unlock()
		for i, text := range update.Addresses {
			if i == update.YourIndex {
				continue
			}
			remote, err := net.ResolveUDPAddr("udp", text)
			if err != nil || m.known(remote) {
				continue
			}
			if amServer(self, remote) {
				m.mux.socket.WriteToUDP([]byte("hello"), remote)
				continue
			}
			m.connect(remote)
		}
	}
}

func (m *member) known(remote *net.UDPAddr) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byAddr[remote.String()] != nil
}

// connect waits up to 1 s for the server's first datagram, then handshakes as client.
func (m *member) connect(remote *net.UDPAddr) {
	conn := m.mux.dial(remote)
	conn.SetReadDeadline(time.Now().Add(time.Second))
	conn.Read(make([]byte, receiveMTU))
	conn.SetReadDeadline(time.Time{})
	session, err := dtls.Client(conn, m.config())
	if err != nil {
		fmt.Printf("handshake as client with %s failed: %v\n", remote, err)
		conn.Close()
		return
	}
	m.established(session, remote.String(), "client")
}

func (m *member) acceptLoop() {
	for conn := range m.mux.accepted {
		session, err := dtls.Server(conn, m.config())
		if err != nil {
			fmt.Printf("handshake as server with %s failed: %v\n", conn.remote, err)
			conn.Close()
			continue
		}
		m.established(session, conn.remote.String(), "server")
	}
}

func (m *member) established(session *dtls.Conn, outside, role string) {
	hint := string(session.ConnectionState().IdentityHint)
	if net.ParseIP(hint) == nil {
		fmt.Printf("peer %s sent identity %q, not an IP address\n", outside, hint)
		session.Close()
		return
	}
	p := &peer{vpnIP: hint, outside: outside, conn: session}
	m.mu.Lock()
	m.byAddr[outside] = p
	m.byVpnIP[hint] = p
	m.mu.Unlock()
	fmt.Printf("established %s at %s as %s\n", hint, outside, role)
	go m.readLoop(p)
}

// readLoop is the original's: any read error ends the process.
func (m *member) readLoop(p *peer) {
	buf := make([]byte, 65535)
	for {
		n, err := p.conn.Read(buf)
		if err != nil {
			fatal("read from %s (%s): %v", p.vpnIP, p.outside, err)
		}
		if err := m.device.write(buf[:n], p); err != nil {
			fatal("write to the device: %v", err)
		}
	}
}

// route sends a packet read from the TUN device to the peer holding its IPv4 destination.
func (m *member) route(packet []byte) {
	if len(packet) < 20 || packet[0]>>4 != 4 {
		return
	}
	m.mu.Lock()
	p := m.byVpnIP[net.IP(packet[16:20]).String()]
	m.mu.Unlock()
	if p != nil {
		p.conn.Write(packet)
	}
}

// amServer is the spec's role rule: IPv4 before IPv6, then bytes, then the port; larger serves.
func amServer(self, other *net.UDPAddr) bool {
	a, b := normalize(self.IP), normalize(other.IP)
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	if c := bytes.Compare(a, b); c != 0 {
		return c > 0
	}
	return self.Port > other.Port
}

func normalize(ip net.IP) net.IP {
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip
}

// echoResponder answers ICMP echo requests to our VPN IP and reports every packet on stdout.
type echoResponder struct{ vpnIP net.IP }

func (e *echoResponder) write(packet []byte, from *peer) error {
	if len(packet) == 0 {
		return fmt.Errorf("empty packet")
	}
	if packet[0]>>4 != 4 || len(packet) < 28 {
		fmt.Printf("packet from %s: %d bytes, not IPv4 ICMP\n", from.vpnIP, len(packet))
		return nil
	}
	headerLen := int(packet[0]&0x0f) * 4
	isEcho := packet[9] == 1 && packet[headerLen] == 8 && net.IP(packet[16:20]).Equal(e.vpnIP)
	fmt.Printf("packet from %s: %d bytes, echo request %v\n", from.vpnIP, len(packet), isEcho)
	if !isEcho {
		return nil
	}
	reply := append([]byte(nil), packet...)
	copy(reply[12:16], packet[16:20])
	copy(reply[16:20], packet[12:16])
	reply[headerLen] = 0
	reply[headerLen+2], reply[headerLen+3] = 0, 0
	sum := checksum(reply[headerLen:])
	reply[headerLen+2], reply[headerLen+3] = byte(sum>>8), byte(sum)
	reply[10], reply[11] = 0, 0
	sum = checksum(reply[:headerLen])
	reply[10], reply[11] = byte(sum>>8), byte(sum)
	_, err := from.conn.Write(reply)
	return err
}

func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
