// Command lemlist-hook registers, lists and deletes the lemlist webhook
// that feeds the server's live feed (Subscription.activityAdded): lemlist
// then POSTs each new activity to the server's /webhooks/lemlist at once,
// instead of the server finding it at its next poll.
//
//	export LEMLIST_API_KEY=…    # the team's key (never a flag: flags show in ps)
//	export WEBHOOK_SECRET=…     # the server's WEBHOOK_SECRET (server mode only)
//	lemlist-hook register -server https://gql.example.com [-type emailsReplied] [-campaign cam_…]
//	lemlist-hook register -server https://gql.example.com -passthrough [-type …]
//	lemlist-hook list
//	lemlist-hook delete hoo_…
//
// register points lemlist at <server>/webhooks/lemlist with WEBHOOK_SECRET,
// which lemlist echoes in every call for the server to check: the
// operator of a server in server mode holds both the team's key and the
// secret.
//
// With -passthrough (a server in AUTH_MODE=passthrough, where each client
// brings its own key), the tool does not register the hook itself: it asks
// the server (POST <server>/webhooks/lemlist/register, feed.Registrar) with
// LEMLIST_API_KEY as a pass-through client would. The server checks the
// key with lemlist, makes a random secret for the key's tenant (or reuses
// the tenant's), keeps it, and registers the hook at
// <server>/webhooks/lemlist/<tenant> with it. Registering thus needs only
// the tenant's key, nobody but the server holds the secret, and no secret
// lets its holder publish into another tenant's feed. The key goes to the
// server, so -server must be https (or loopback).
//
// LEMLIST_BASE_URL overrides lemlist's API root. The exit status is 0 on
// success, 1 when lemlist or the server refuses or fails, 2 on bad usage.
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/lemlist"
)

const usage = `usage:
  lemlist-hook register -server URL [-passthrough] [-type TYPE] [-campaign ID] [-first true|false]
  lemlist-hook list
  lemlist-hook delete HOOK_ID

environment: LEMLIST_API_KEY (required), WEBHOOK_SECRET (register without -passthrough),
LEMLIST_BASE_URL (optional)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// usageError is bad usage: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// run runs one command and returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, getenv, stdout)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stderr, usage)
		return 0
	}
	fmt.Fprintln(stderr, "lemlist-hook:", err)
	if _, ok := errors.AsType[*usageError](err); ok {
		fmt.Fprint(stderr, usage)
		return 2
	}
	return 1
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return &usageError{"no command"}
	}
	cmd, args := args[0], args[1:]
	if cmd == "-h" || cmd == "--help" || cmd == "help" {
		return flag.ErrHelp
	}
	key := strings.TrimSpace(getenv("LEMLIST_API_KEY"))
	if key == "" {
		return &usageError{"LEMLIST_API_KEY is not set"}
	}
	opts := []lemlist.Option{lemlist.WithUserAgent("lemlist-graphql/lemlist-hook")}
	if base := strings.TrimSpace(getenv("LEMLIST_BASE_URL")); base != "" {
		opts = append(opts, lemlist.WithBaseURL(base))
	}
	c, err := lemlist.NewClient(key, opts...)
	if err != nil {
		return &usageError{err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	switch cmd {
	case "register":
		return register(ctx, c, key, args, getenv, stdout)
	case "list":
		if len(args) > 0 {
			return &usageError{"list takes no argument"}
		}
		return list(ctx, c, stdout)
	case "delete":
		if len(args) != 1 || strings.HasPrefix(args[0], "-") {
			return &usageError{"delete takes one hook id (hoo_…)"}
		}
		h, _, err := c.Hooks.Delete(ctx, args[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted %s (%s)\n", h.ID, h.TargetURL)
		return nil
	}
	return &usageError{fmt.Sprintf("unknown command %q", cmd)}
}

func register(ctx context.Context, c *lemlist.Client, key string, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("register", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	server := fs.String("server", "", "the GraphQL server's public root URL, e.g. https://gql.example.com")
	passthrough := fs.Bool("passthrough", false, "the server runs in AUTH_MODE=passthrough: it registers the hook, with a secret of its own for the key's tenant")
	typ := fs.String("type", "", "only this event type, e.g. emailsReplied (default: every event)")
	campaign := fs.String("campaign", "", "only this campaign (cam_…)")
	first := fs.String("first", "", "only first events (true) or only the others (false)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	u, err := url.Parse(strings.TrimSpace(*server))
	if *server == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return &usageError{"-server must be the server's root URL, such as https://gql.example.com"}
	}
	spec := feed.HookSpec{Type: *typ, CampaignID: *campaign}
	if *first != "" {
		b, err := strconv.ParseBool(*first)
		if err != nil {
			return &usageError{"-first must be true or false"}
		}
		spec.IsFirst = &b
	}
	root := strings.TrimSuffix(u.String(), "/")
	if *passthrough {
		if u.Scheme != "https" && !isLoopback(u.Hostname()) {
			return &usageError{"-server must be https with -passthrough: the key goes to the server"}
		}
		return registerViaServer(ctx, root, key, spec, stdout)
	}
	secret := getenv("WEBHOOK_SECRET")
	if secret == "" {
		return &usageError{"WEBHOOK_SECRET is not set: use the server's"}
	}
	o := &lemlist.HookOptions{TargetURL: root + feed.WebhookPath, Type: spec.Type, Secret: secret, CampaignID: spec.CampaignID, IsFirst: spec.IsFirst}
	h, _, err := c.Hooks.Create(ctx, o)
	if err != nil {
		return fmt.Errorf("%w (if unsure whether it was registered, run lemlist-hook list)", err)
	}
	events := h.Type
	if events == "" {
		events = "every event"
	}
	fmt.Fprintf(stdout, "registered %s: lemlist posts %s to %s\n", h.ID, events, h.TargetURL)
	return nil
}

// registerViaServer asks the server at root to register the hook of
// spec for key's tenant (feed.Registrar).
func registerViaServer(ctx context.Context, root, key string, spec feed.HookSpec, stdout io.Writer) error {
	body, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, root+feed.RegisterPath, bytes.NewReader(body))
	if err != nil {
		return &usageError{err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lemlist-graphql/lemlist-hook")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", root+feed.RegisterPath, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated {
		msg := strings.TrimSpace(string(answer))
		var e struct {
			Errors []struct {
				Message    string
				Extensions struct{ Code string }
			}
		}
		if json.Unmarshal(answer, &e) == nil && len(e.Errors) > 0 {
			msg = e.Errors[0].Extensions.Code + ": " + e.Errors[0].Message
		}
		msg = strings.ReplaceAll(msg, key, "…")
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			msg = "the server offers no hook registration (not in pass-through mode, or an older version)"
		}
		return fmt.Errorf("POST %s: %d %s (if unsure whether it was registered, run lemlist-hook list)", root+feed.RegisterPath, resp.StatusCode, msg)
	}
	var h struct{ ID, TargetURL, Type string }
	if err := json.Unmarshal(answer, &h); err != nil || h.ID == "" {
		return fmt.Errorf("POST %s: unexpected answer (run lemlist-hook list)", root+feed.RegisterPath)
	}
	fmt.Fprintf(stdout, "registered %s: lemlist posts %s to %s\n", h.ID, cmp.Or(h.Type, "every event"), h.TargetURL)
	return nil
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func list(ctx context.Context, c *lemlist.Client, stdout io.Writer) error {
	hooks, _, err := c.Hooks.List(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tTYPE\tCAMPAIGN\tCREATED\tTARGET")
	for _, h := range hooks {
		typ, camp, created := h.Type, h.CampaignID, ""
		if typ == "" {
			typ = "*"
		}
		if camp == "" {
			camp = "*"
		}
		if !h.CreatedAt.IsZero() {
			created = h.CreatedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", h.ID, typ, camp, created, h.TargetURL)
	}
	return w.Flush()
}
