package portal

import "testing"

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
