// Package pgtest runs a real PostgreSQL server for tests.
//
// Start initialises a cluster with initdb in a temporary directory and
// runs postgres on a free loopback port, stopping it and removing the
// directory when the test ends. PostgreSQL refuses to run as root, so when
// the tests run as root the cluster belongs to an unprivileged user (the
// system's postgres user where there is one, else nobody) and the
// processes run with that user's credentials.
//
// Start skips the test when initdb or postgres cannot be found (on the
// PATH, or under /usr/lib/postgresql/*/bin), unless the environment
// variable CI is "true": then it fails it, so that CI cannot pass by
// skipping (scripts/install-postgres.sh installs them).
package pgtest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Superuser and Password are the cluster's superuser and its password;
// connections over TCP must present it (scram-sha-256).
const (
	Superuser = "postgres"
	Password  = "pgtest-password"
)

// Server is a postgres process on a loopback port of its own.
type Server struct {
	tb    testing.TB
	bin   string // the directory of initdb and postgres
	base  string // removed at cleanup
	data  string
	sock  string
	port  int
	cred  *syscall.Credential // nil: run as ourselves
	owner int                 // uid of data; -1 when we are not root

	mu     sync.Mutex
	proc   *os.Process // nil while stopped
	exited chan error
	log    *logTail
}

// Start initialises a cluster and starts postgres for tb, stopping it at
// cleanup.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := findBin()
	if err != nil {
		msg := "PostgreSQL not installed (" + err.Error() + "; apt-get install postgresql, or scripts/install-postgres.sh)"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg + ": required when CI=true")
		}
		tb.Skip(msg)
	}
	s := &Server{tb: tb, bin: bin, owner: -1}
	if err := s.prepare(); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		s.Kill()
		_ = os.RemoveAll(s.base)
	})
	if err := s.initdb(); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	var lastErr error
	for range 5 { // a free port may be taken before postgres binds it
		if s.port, err = freePort(); err != nil {
			tb.Fatal(err)
		}
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	tb.Fatalf("pgtest: starting postgres: %v", lastErr)
	return nil
}

// Port returns the server's loopback port.
func (s *Server) Port() int { return s.port }

// URL returns a postgres:// URL for database db as the superuser.
func (s *Server) URL(db string) string {
	return s.URLFor(Superuser, Password, db)
}

// URLFor returns a postgres:// URL for database db as user with password.
func (s *Server) URLFor(user, password, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Kill stops the server at once (SIGKILL), as a crash would. Killing a
// stopped server does nothing. The data directory is kept: Restart
// recovers it.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	_ = s.proc.Kill()
	<-s.exited
	s.proc = nil
	// postgres' children outlive a SIGKILL of the postmaster for a moment
	// and hold the shared memory; they exit once they notice.
	_ = os.Remove(filepath.Join(s.data, "postmaster.pid"))
}

// Restart starts the server again on the same port and data directory,
// killing it first if it is running. The data survives, as after a crash.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = s.start(); err == nil {
			return
		}
	}
	s.tb.Fatalf("pgtest: restarting postgres on port %d: %v", s.port, err)
}

// Log returns the server's recent log lines.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

// prepare makes the directories, owned by the unprivileged user when we
// are root.
func (s *Server) prepare() error {
	base, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return err
	}
	s.base = base
	s.data = filepath.Join(base, "data")
	s.sock = filepath.Join(base, "sock")
	for _, d := range []string{s.data, s.sock} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return err
		}
	}
	if os.Geteuid() != 0 {
		return nil
	}
	uid, gid, err := unprivileged()
	if err != nil {
		return err
	}
	s.owner = uid
	s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if err := os.Chmod(base, 0o755); err != nil {
		return err
	}
	for _, d := range []string{s.data, s.sock} {
		if err := os.Chown(d, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// unprivileged returns the user the cluster runs as when we are root.
func unprivileged() (uid, gid int, err error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 == nil && err2 == nil && uid != 0 {
			return uid, gid, nil
		}
	}
	return 0, 0, fmt.Errorf("no unprivileged user (postgres or nobody) to run PostgreSQL as root")
}

// initdb creates the cluster with a password for the superuser.
func (s *Server) initdb() error {
	pw := filepath.Join(s.base, "pwfile")
	if err := os.WriteFile(pw, []byte(Password+"\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(pw)
	cmd := s.command(filepath.Join(s.bin, "initdb"),
		"-D", s.data, "-U", Superuser, "--pwfile", pw,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out)
	}
	return nil
}

// start runs postgres on s.port and waits until it accepts connections.
func (s *Server) start() error {
	cmd := s.command(filepath.Join(s.bin, "postgres"),
		"-D", s.data, "-p", strconv.Itoa(s.port), "-k", s.sock,
		"-c", "listen_addresses=127.0.0.1",
		// A test cluster: durability is the host's concern, not ours.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=64MB",
	)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return err
	}
	log := &logTail{}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		var once sync.Once
		for sc.Scan() {
			line := sc.Text()
			log.add(line)
			if strings.Contains(line, "ready to accept connections") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		exited <- err
	}()
	select {
	case <-ready:
	case err := <-exited:
		return fmt.Errorf("exited (%v): %s", err, log.String())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("not ready within 30s: %s", log.String())
	}
	s.mu.Lock()
	s.proc, s.exited, s.log = cmd.Process, exited, log
	s.mu.Unlock()
	return nil
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

// findBin returns the directory holding initdb and postgres.
func findBin() (string, error) {
	if p, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // newest version first (one-digit majors sort last)
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("postgres and initdb not found")
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

// logTail keeps the last lines of a log.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

func (l *logTail) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	if len(l.lines) > 200 {
		l.lines = l.lines[len(l.lines)-100:]
	}
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
