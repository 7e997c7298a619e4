package pdtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// S3Server is a real S3-compatible server on loopback: versitygw over a
// directory of the test's (the README's test command installs it with
// go install).
type S3Server struct {
	Endpoint, Bucket string
	Access, Secret   string
	Dir              string // where the objects are, as files: Dir/Bucket/key
}

// StartS3 starts versitygw with one bucket; the AWS credentials of the
// environment are set for the test so the service finds them as it would.
func StartS3(t testing.TB) *S3Server {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "versitygw")
		if _, err := os.Stat(bin); err != nil {
			t.Fatal("versitygw is not installed: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 (the README's test command does)")
		}
	}
	dir := t.TempDir()
	s := &S3Server{Bucket: "portaldesk", Access: "PDTESTACCESSKEY", Secret: "pdtest-secret-key-0123456789", Dir: filepath.Join(dir, "root")}
	if err := os.MkdirAll(filepath.Join(s.Dir, s.Bucket), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "meta"), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Endpoint = ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--access", s.Access, "--secret", s.Secret, "--port", s.Endpoint, "--quiet",
		"posix", "--sidecar", filepath.Join(dir, "meta"), s.Dir)
	cmd.Stderr = os.Stderr // its notes on start go to stdout, dropped
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; ; i++ {
		if c, err := net.DialTimeout("tcp", s.Endpoint, 100*time.Millisecond); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatal("versitygw did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Litestream's S3 client cannot take a CA bundle from the environment
	// together with its own HTTP client; the server is plain http anyway.
	t.Setenv("AWS_CA_BUNDLE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", s.Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.Secret)
	return s
}

// URL is the service's --storage for this server, under prefix.
func (s *S3Server) URL(prefix string, query ...string) string {
	u := fmt.Sprintf("s3://%s/%s?endpoint=%s&insecure=1", s.Bucket, prefix, s.Endpoint)
	for _, q := range query {
		u += "&" + q
	}
	return u
}
