package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startBinary runs the real service on a free loopback port and waits until it answers.
func startBinary(t *testing.T, bin, data string) (*exec.Cmd, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data", data)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr
	// It says, on one line, where to open it; then it answers.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "Portaldesk is ready: open "+base+"/\n" {
		cmd.Process.Kill()
		t.Fatalf("the first line: %q %v", line, err)
	}
	go io.Copy(os.Stderr, stdout)
	for i := 0; i < 200; i++ {
		if r, err := http.Get(base + "/healthz"); err == nil {
			r.Body.Close()
			return cmd, base
		}
		time.Sleep(25 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatal("the service did not start")
	return nil, ""
}

func post(base, path, tok string, body any) (int, map[string]any) {
	return send("POST", base, path, tok, body)
}

// send makes one JSON call; a node that does not answer (one stopped by a
// test) is given up on after cclient's timeout.
func send(method, base, path, tok string, body any) (int, map[string]any) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := cclient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// TestKill9LosesNoCommittedTicket kills the real binary with SIGKILL in the
// middle of writes; every ticket it answered 201 for is there after a restart.
func TestKill9LosesNoCommittedTicket(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "portaldesk")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	cmd, base := startBinary(t, bin, data)
	if code, m := post(base, "/api/v1/portals", "", map[string]string{"company": "Acme", "slug": "acme", "admin_name": "A", "admin_email": "a@acme.test", "admin_password": "amber-lantern-57"}); code != 201 {
		t.Fatalf("signup: %d %v", code, m)
	}
	_, m := post(base, "/acme/api/v1/login", "", map[string]string{"email": "a@acme.test", "password": "amber-lantern-57"})
	tok := m["token"].(string)
	var mu sync.Mutex
	var committed []float64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				code, m := post(base, "/acme/api/v1/tickets", tok, map[string]any{"fields": map[string]any{"subject": fmt.Sprintf("g%d-%d", g, i), "description": strings.Repeat("x", 200)}})
				if code == 0 {
					return // the process is gone
				}
				if code == 201 {
					mu.Lock()
					committed = append(committed, m["number"].(float64))
					mu.Unlock()
				}
			}
		}(g)
	}
	time.Sleep(400 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	wg.Wait()
	if len(committed) < 10 {
		t.Fatalf("only %d tickets before the kill", len(committed))
	}
	cmd, base = startBinary(t, bin, data)
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	_, m = post(base, "/acme/api/v1/login", "", map[string]string{"email": "a@acme.test", "password": "amber-lantern-57"})
	tok = m["token"].(string)
	for _, n := range committed {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/acme/api/v1/tickets/%d", base, int64(n)), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("ticket #%d, answered 201 before the kill, is gone after it (%d)", int64(n), res.StatusCode)
		}
	}
	t.Logf("%d committed tickets survived kill -9", len(committed))
}

// TestSIGTERMShutsDownCleanly stops the real binary with SIGTERM: it exits
// 0 and leaves every portal database checkpointed (an empty WAL).
func TestSIGTERMShutsDownCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "portaldesk")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	// The first ten minutes: --help lists the commands; a command pointed
	// at no data directory refuses instead of making one.
	if out, _ := exec.Command(bin, "--help").CombinedOutput(); !strings.Contains(string(out), "portaldesk portals create") || !strings.Contains(string(out), "portaldesk ops add-user") {
		t.Fatalf("--help: %s", out)
	}
	out, err := exec.Command(bin, "jobs", "run", "usage", "--data", data).CombinedOutput()
	if _, serr := os.Stat(data); err == nil || !strings.Contains(string(out), "no data directory at "+data) || serr == nil {
		t.Fatalf("a command without a data directory: %v %s", err, out)
	}
	cmd, base := startBinary(t, bin, data)
	post(base, "/api/v1/portals", "", map[string]string{"company": "Acme", "slug": "acme", "admin_name": "A", "admin_email": "a@acme.test", "admin_password": "amber-lantern-57"})
	_, m := post(base, "/acme/api/v1/login", "", map[string]string{"email": "a@acme.test", "password": "amber-lantern-57"})
	for i := 0; i < 20; i++ {
		post(base, "/acme/api/v1/tickets", m["token"].(string), map[string]any{"fields": map[string]any{"subject": "S", "description": "D"}})
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(data, "portals", "acme", "portal.db-wal")); err == nil && fi.Size() != 0 {
		t.Fatalf("the WAL was not checkpointed: %d bytes", fi.Size())
	}
}
