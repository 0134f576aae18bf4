package postgres

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// OpenError is the error of Open: the step that failed (parse, connect,
// migrate) and why, with the password masked. It is a configuration
// error: the server reports it as one (exit status 2, naming its MIRROR
// setting) without quoting the URL.
type OpenError struct {
	// Step is "parse", "configure", "connect" or "migrate".
	Step string
	msg  string
	err  error // nil for parse errors, whose text may hold the password
}

// Error implements error.
func (e *OpenError) Error() string { return e.msg }

// Unwrap returns the cause (a *pgconn.PgError, *pgconn.ConnectError,
// context error ...), except for parse errors.
func (e *OpenError) Unwrap() error { return e.err }

// mask replaces the password wherever it appears.
const mask = "xxxxx"

var (
	urlPassword = regexp.MustCompile(`://[^/@:]*:([^@]*)@`)
	kvPassword  = regexp.MustCompile(`password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)
)

// secrets returns the passwords a connection string holds, as written and
// decoded, found even in strings that do not parse.
func secrets(conn string) []string {
	var out []string
	add := func(s string) {
		s = strings.Trim(s, "'")
		if s == "" {
			return
		}
		out = append(out, s)
		if d, err := url.PathUnescape(s); err == nil && d != s {
			out = append(out, d)
		}
		if e := url.QueryEscape(s); e != s {
			out = append(out, e)
		}
	}
	for _, m := range urlPassword.FindAllStringSubmatch(conn, -1) {
		add(m[1])
	}
	for _, m := range kvPassword.FindAllStringSubmatch(conn, -1) {
		add(m[1])
	}
	if u, err := url.Parse(conn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			add(p)
		}
	}
	return out
}

// scrub masks every secret in msg.
func scrub(msg string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, mask)
		}
	}
	return msg
}

// parseError reports a connection string that does not parse, without
// keeping pgx's error (its text quotes the string).
func parseError(conn string, err error) error {
	msg := err.Error()
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		msg = pe.Unwrap().Error()
	}
	return &OpenError{Step: "parse", msg: "postgres: invalid connection URL: " + scrub(msg, secrets(conn)...)}
}

// openError reports a failed step of Open, naming the cause.
func openError(step, password string, err error) error {
	msg := err.Error()
	var pg *pgconn.PgError
	switch {
	case errors.As(err, &pg) && pg.Code == "28P01":
		msg = "authentication failed (wrong user or password): " + msg
	case errors.As(err, &pg) && pg.Code == "3D000":
		msg = "no such database: " + msg
	case errors.As(err, &pg) && (pg.Code == "42501" || pg.Code == "28000"):
		msg = "permission denied: " + msg
	case errors.Is(err, context.DeadlineExceeded):
		msg = "timed out: " + msg
	case errors.As(err, new(*pgconn.ConnectError)):
		msg = "server unreachable or refused the connection: " + msg
	}
	return &OpenError{Step: step, msg: "postgres: " + step + ": " + scrub(msg, password), err: err}
}
