// One UDP socket shared by the rolodex and every peer, demultiplexed by remote address as the
// original's listener (samvrlewis/udp, a fork of pion/udp) does: a datagram from an address with a
// connection goes to it; from any other address it opens a connection only if it starts with a
// DTLS handshake record (the original's AcceptFilter), and is dropped otherwise.
package main

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/pion/dtls/v2/pkg/protocol"
	"github.com/pion/dtls/v2/pkg/protocol/recordlayer"
	"github.com/pion/transport/v2/deadline"
)

// receiveMTU is pion/udp's read buffer: a longer datagram arrives cut short.
const receiveMTU = 8192

type mux struct {
	socket    *net.UDPConn
	rolodex   *net.UDPAddr
	onRolodex func([]byte)
	accepted  chan *muxConn

	mu    sync.Mutex
	conns map[string]*muxConn
}

func newMux(socket *net.UDPConn, rolodex *net.UDPAddr, onRolodex func([]byte)) *mux {
	return &mux{socket: socket, rolodex: rolodex, onRolodex: onRolodex, accepted: make(chan *muxConn, 64), conns: map[string]*muxConn{}}
}

func acceptFilter(datagram []byte) bool {
	records, err := recordlayer.UnpackDatagram(datagram)
	if err != nil || len(records) < 1 {
		return false
	}
	header := &recordlayer.Header{}
	if err := header.Unmarshal(records[0]); err != nil {
		return false
	}
	return header.ContentType == protocol.ContentTypeHandshake
}

func (m *mux) readLoop() {
	buf := make([]byte, receiveMTU)
	for {
		n, from, err := m.socket.ReadFromUDP(buf)
		if err != nil {
			fatal("socket read: %v", err)
		}
		datagram := append([]byte(nil), buf[:n]...)
		if from.IP.Equal(m.rolodex.IP) && from.Port == m.rolodex.Port {
			m.onRolodex(datagram)
			continue
		}
		m.mu.Lock()
		conn := m.conns[from.String()]
		if conn == nil {
			if !acceptFilter(datagram) {
				m.mu.Unlock()
				continue
			}
			conn = m.newConnLocked(from)
			select {
			case m.accepted <- conn:
			default: // the accept loop is far behind: drop, as a full listen backlog would
				delete(m.conns, from.String())
				m.mu.Unlock()
				continue
			}
		}
		m.mu.Unlock()
		conn.deliver(datagram)
	}
}

// dial registers a connection to remote, or returns the one that exists.
func (m *mux) dial(remote *net.UDPAddr) *muxConn {
	m.mu.Lock()
	defer m.mu.Unlock()
	if conn := m.conns[remote.String()]; conn != nil {
		return conn
	}
	return m.newConnLocked(remote)
}

func (m *mux) newConnLocked(remote *net.UDPAddr) *muxConn {
	conn := &muxConn{mux: m, remote: remote, inbox: make(chan []byte, 256), closed: make(chan struct{}), readDeadline: deadline.New()}
	m.conns[remote.String()] = conn
	return conn
}

func (m *mux) forget(conn *muxConn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conns[conn.remote.String()] == conn {
		delete(m.conns, conn.remote.String())
	}
}

// muxConn is one remote address's share of the socket, as a net.Conn for pion.
type muxConn struct {
	mux          *mux
	remote       *net.UDPAddr
	inbox        chan []byte
	closeOnce    sync.Once
	closed       chan struct{}
	readDeadline *deadline.Deadline
}

var errTimeout = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (c *muxConn) deliver(datagram []byte) {
	select {
	case c.inbox <- datagram:
	default: // a full queue drops, as a socket buffer would
	}
}

func (c *muxConn) Read(b []byte) (int, error) {
	select {
	case datagram := <-c.inbox:
		return copy(b, datagram), nil
	case <-c.closed:
		return 0, io.EOF
	case <-c.readDeadline.Done():
		return 0, errTimeout
	}
}

func (c *muxConn) Write(b []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, errors.New("connection closed")
	default:
	}
	return c.mux.socket.WriteToUDP(b, c.remote)
}

func (c *muxConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.mux.forget(c)
	})
	return nil
}

func (c *muxConn) LocalAddr() net.Addr               { return c.mux.socket.LocalAddr() }
func (c *muxConn) RemoteAddr() net.Addr              { return c.remote }
func (c *muxConn) SetDeadline(t time.Time) error     { c.readDeadline.Set(t); return nil }
func (c *muxConn) SetReadDeadline(t time.Time) error { c.readDeadline.Set(t); return nil }
func (c *muxConn) SetWriteDeadline(time.Time) error  { return nil }
