package ovs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultRunDir is where OVS keeps its sockets and pid files on a node.
const DefaultRunDir = "/var/run/openvswitch"

// FindVswitchdCtl returns the unixctl socket of ovs-vswitchd: RUNDIR/ovs-vswitchd.PID.ctl with PID
// read from RUNDIR/ovs-vswitchd.pid, as ovs-appctl finds it. Its errors end with hint, how the
// caller names the socket instead ("" for plain words).
func FindVswitchdCtl(runDir, hint string) (string, error) {
	hint = cmp.Or(hint, "name ovs-vswitchd's control socket")
	if runDir == "" {
		runDir = DefaultRunDir
	}
	pidFile := filepath.Join(runDir, "ovs-vswitchd.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("ovs-vswitchd is not running here: %s does not exist (%s)", pidFile, hint)
		}
		return "", fmt.Errorf("cannot read %s: %w (%s)", pidFile, err, hint)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return "", fmt.Errorf("%s does not hold a pid (%s)", pidFile, hint)
	}
	return filepath.Join(runDir, fmt.Sprintf("ovs-vswitchd.%d.ctl", pid)), nil
}

// MaxReply bounds what is read of one unixctl answer: fdb/show of a million MACs is about 45 MB.
var MaxReply int64 = 128 << 20

// Unixctl runs one command on an OVS daemon's unixctl socket (JSON-RPC over a unix socket) and
// returns the text it answers. Equivalent to: `ovs-appctl -t SOCKET METHOD PARAMS...`.
func Unixctl(ctx context.Context, socket, method string, params ...string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return "", fmt.Errorf("cannot reach ovs-vswitchd at %s: %v", socket, dialHint(err))
	}
	defer conn.Close()
	timeout := DefaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(DefaultTimeout))
	}
	// A cancelled context (Ctrl-C) unblocks the read at once, not at the deadline.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if params == nil {
		params = []string{}
	}
	req := struct {
		Method string   `json:"method"`
		Params []string `json:"params"`
		ID     int      `json:"id"`
	}{method, params, 0}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return "", fmt.Errorf("ovs-vswitchd %s: sending %s: %v", socket, method, ioHint(ctx, err, timeout))
	}
	text, err := DecodeReply(conn, method, params)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || ctx.Err() != nil {
			return "", fmt.Errorf("ovs-vswitchd %s: reading the answer to %s: %v", socket, method, ioHint(ctx, err, timeout))
		}
		return "", fmt.Errorf("ovs-vswitchd %s: %w", socket, err)
	}
	return text, nil
}

// ioHint says why a read or write on the socket stopped: interrupted, or no answer in time.
func ioHint(ctx context.Context, err error, timeout time.Duration) string {
	if errors.Is(ctx.Err(), context.Canceled) {
		return "interrupted"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || ctx.Err() != nil {
		return fmt.Sprintf("no answer within %s (is ovs-vswitchd hung?)", ceilTimeout(timeout))
	}
	return err.Error()
}

// DecodeReply reads one JSON-RPC answer to method from r (at most MaxReply bytes) and returns its
// result text, or the daemon's error as one line.
func DecodeReply(r io.Reader, method string, params []string) (string, error) {
	lr := &io.LimitedReader{R: r, N: MaxReply + 1}
	var resp struct {
		Result *string         `json:"result"`
		Error  json.RawMessage `json:"error"`
		ID     json.RawMessage `json:"id"`
	}
	if err := json.NewDecoder(lr).Decode(&resp); err != nil {
		if lr.N <= 0 {
			return "", fmt.Errorf("the answer to %s is larger than %d MiB: not read", method, MaxReply>>20)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return "", fmt.Errorf("the connection closed before the answer to %s was complete", method)
		}
		var ne net.Error
		if errors.As(err, &ne) {
			return "", err
		}
		return "", fmt.Errorf("the answer to %s is not JSON-RPC: %w", method, err)
	}
	if len(resp.Error) > 0 && string(resp.Error) != "null" {
		var msg string
		if json.Unmarshal(resp.Error, &msg) != nil {
			msg = string(resp.Error)
		}
		return "", fmt.Errorf("%s %s: %s", method, strings.Join(params, " "), oneLine(msg))
	}
	if resp.Result == nil {
		return "", fmt.Errorf("no result for %s", method)
	}
	return *resp.Result, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// appctl runs the ovs-appctl binary: the fallback when asked for.
func appctl(ctx context.Context, bin, socket, method string, params ...string) (string, error) {
	if bin == "" {
		bin = "ovs-appctl"
	}
	args := []string{}
	if socket != "" {
		args = append(args, "-t", socket)
	}
	args = append(append(args, method), params...)
	var stderr strings.Builder
	c := exec.CommandContext(ctx, bin, args...)
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("%s %s: %s", bin, strings.Join(args, " "), msg)
	}
	return string(out), nil
}

// dialHint turns a dial error into what the user should know.
func dialHint(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "socket does not exist (is OVS running? pass the socket path)"
	case errors.Is(err, os.ErrPermission):
		return "permission denied (run as root)"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused (the daemon is not running)"
	}
	return err.Error()
}

// ceilTimeout rounds the time that was left up to a round figure: the deadline was set a few
// milliseconds before it was measured, and "299ms" reads as a wrong setting.
func ceilTimeout(d time.Duration) time.Duration {
	step := 10 * time.Millisecond
	if d >= 100*time.Millisecond {
		step = 100 * time.Millisecond
	}
	return (d + step - 1).Truncate(step)
}
