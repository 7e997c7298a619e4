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

func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{
		`=HYPERLINK("http://evil","x")`: `'=HYPERLINK("http://evil","x")`,
		"+1+2":                          "'+1+2",
		"-2+3+cmd|' /C calc'!A0":        "'-2+3+cmd|' /C calc'!A0",
		"@SUM(A1)":                      "'@SUM(A1)",
		"\tx":                           "'\tx",
		"\rx":                           "'\rx",
		"-12.50":                        "-12.50",
		"12,5":                          "12,5",
		"Ann":                           "Ann",
		"":                              "",
	} {
		if got := safeCell(in); got != want {
			t.Errorf("safeCell(%q) = %q, want %q", in, got, want)
		}
	}
}
