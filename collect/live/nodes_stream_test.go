package live

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestAgentlessGarbageFailsOnItsFirstByte: a node command expected to print JSON that prints an
// HTML page (and keeps the pipe open) fails on the '<', without waiting for the rest.
func TestAgentlessGarbageFailsOnItsFirstByte(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("\n  <html>")) }() // and never closed
	done := make(chan error, 1)
	go func() { _, err := readJSONish(pr, "ip -j link show"); done <- err }()
	select {
	case err := <-done:
		if err == nil || err.Error() != `ip -j link show: printed '<' where JSON was expected` {
			t.Errorf("readJSONish = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("readJSONish waits for the rest of garbage")
	}
	if b, err := readJSONish(strings.NewReader(" [1]"), "x"); err != nil || string(b) != "[1]" {
		t.Errorf("JSON: %q, %v", b, err)
	}
}
