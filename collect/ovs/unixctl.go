package ovs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
// read from RUNDIR/ovs-vswitchd.pid, as ovs-appctl finds it.
func FindVswitchdCtl(runDir string) (string, error) {
	if runDir == "" {
		runDir = DefaultRunDir
	}
	pidFile := filepath.Join(runDir, "ovs-vswitchd.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("ovs-vswitchd is not running here: %s does not exist (pass --ovs-vswitchd-ctl PATH)", pidFile)
		}
		return "", fmt.Errorf("cannot read %s: %v (pass --ovs-vswitchd-ctl PATH)", pidFile, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return "", fmt.Errorf("%s does not hold a pid (pass --ovs-vswitchd-ctl PATH)", pidFile)
	}
	return filepath.Join(runDir, fmt.Sprintf("ovs-vswitchd.%d.ctl", pid)), nil
}

// Unixctl runs one command on an OVS daemon's unixctl socket (JSON-RPC over a unix socket) and
// returns the text it answers. Equivalent to: `ovs-appctl -t SOCKET METHOD PARAMS...`.
func Unixctl(ctx context.Context, socket, method string, params ...string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return "", fmt.Errorf("cannot reach ovs-vswitchd at %s: %v", socket, dialHint(err))
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(DefaultTimeout))
	}
	if params == nil {
		params = []string{}
	}
	req := struct {
		Method string   `json:"method"`
		Params []string `json:"params"`
		ID     int      `json:"id"`
	}{method, params, 0}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return "", fmt.Errorf("ovs-vswitchd %s: sending %s: %v", socket, method, err)
	}
	var resp struct {
		Result *string         `json:"result"`
		Error  json.RawMessage `json:"error"`
		ID     json.RawMessage `json:"id"`
	}
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return "", fmt.Errorf("ovs-vswitchd %s: reading the answer to %s: %v", socket, method, err)
	}
	if len(resp.Error) > 0 && string(resp.Error) != "null" {
		var msg string
		if json.Unmarshal(resp.Error, &msg) != nil {
			msg = string(resp.Error)
		}
		return "", fmt.Errorf("ovs-vswitchd: %s %s: %s", method, strings.Join(params, " "), strings.TrimSpace(msg))
	}
	if resp.Result == nil {
		return "", fmt.Errorf("ovs-vswitchd %s: no result for %s", socket, method)
	}
	return *resp.Result, nil
}

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
