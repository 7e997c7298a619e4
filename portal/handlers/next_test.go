package handlers

import (
	"strings"
	"testing"
)

func TestLocalNext(t *testing.T) {
	for _, c := range []struct{ base, next, want string }{
		{"/acme", "/acme/tickets/3", "/acme/tickets/3"},
		{"/acme", "/acme/tickets?status=open", "/acme/tickets?status=open"},
		{"/acme", "/beta/tickets", "/acme/"},
		{"/acme", "https://evil.test/", "/acme/"},
		{"/acme", "", "/acme/"},
		{"", "/tickets", "/tickets"},
		{"", "//evil.test/", "/"},
		{"", "/\\evil.test/", "/"},
		{"", "/tickets\r\nSet-Cookie: x=1", "/"},
		{"/acme", "/acme/\\evil", "/acme/"},
	} {
		if got := localNext(c.base, c.next); got != c.want {
			t.Errorf("localNext(%q, %q) = %q, want %q", c.base, c.next, got, c.want)
		}
	}
}

func TestSupportButton(t *testing.T) {
	got := string(supportButton(`http://h/a"b/`, "Поддержка <3"))
	if !strings.Contains(got, `href="http://h/a&#34;b/"`) || !strings.Contains(got, "Поддержка &lt;3</a>") || !strings.Contains(got, `style="display:inline-block`) {
		t.Fatalf("support button: %s", got)
	}
}
