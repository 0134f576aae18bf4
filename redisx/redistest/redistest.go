// Package redistest runs a real redis-server for tests.
//
// Start skips the test when redis-server is not installed, unless the
// environment variable CI is "true": then it fails it, so that CI cannot
// pass by skipping (scripts/install-redis.sh installs it).
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a redis-server process on a loopback port of its own, without
// persistence. It is stopped when its test ends.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int

	mu     sync.Mutex
	proc   *os.Process // nil while stopped
	exited chan error  // receives proc's exit
}

// Start starts a redis-server for tb, stopping it at cleanup.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server not installed (apt-get install redis-server, or scripts/install-redis.sh)"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg + ": required when CI=true")
		}
		tb.Skip(msg)
	}
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir()}
	var lastErr error
	for range 5 { // a free port may be taken before redis-server binds it
		if s.port, err = freePort(); err != nil {
			tb.Fatal(err)
		}
		if lastErr = s.start(); lastErr == nil {
			tb.Cleanup(s.Kill)
			return s
		}
	}
	tb.Fatalf("redistest: starting redis-server: %v", lastErr)
	return nil
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Kill stops the server at once (SIGKILL), as a crash would. Killing a
// stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	_ = s.proc.Kill()
	<-s.exited
	s.proc = nil
}

// Stop suspends the server (SIGSTOP): it keeps its connections and port
// but answers nothing, as a hung or unreachable Redis would. Resume undoes
// it.
func (s *Server) Stop() { s.signal(syscall.SIGSTOP) }

// Resume resumes a stopped server (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		if err := s.proc.Signal(sig); err != nil {
			s.tb.Errorf("redistest: %v: %v", sig, err)
		}
	}
}

// Restart starts the server again on the same port, empty. It kills it
// first if it is running.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = s.start(); err == nil {
			return
		}
	}
	s.tb.Fatalf("redistest: restarting redis-server on port %d: %v", s.port, err)
}

// start runs redis-server on s.port and waits for its PONG.
func (s *Server) start() error {
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--loglevel", "warning",
	)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ping(s.Addr()) == nil {
			s.mu.Lock()
			s.proc, s.exited = cmd.Process, exited
			s.mu.Unlock()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("exited (%v): %s", err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("no PONG within 5s: %s", out.String())
		}
	}
}

// ping sends PING to addr and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// freePort returns a loopback port free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
