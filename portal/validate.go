package portal

import (
	"net/mail"
	"portaldesk/templates/i18n"
	"strings"
	"unicode/utf8"
)

// ValidateEmail says what is wrong with an email address, or "".
func ValidateEmail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "Enter an email address."
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@'):], ".") && !strings.HasSuffix(s, "@localhost") {
		return "Enter a valid email address, like name@example.com."
	}
	if len(s) > 254 {
		return "The email address is too long."
	}
	return ""
}

// ValidatePassword says what is wrong with a new password, or "".
func ValidatePassword(s string) string {
	switch n := utf8.RuneCountInString(s); {
	case n < 8:
		return "The password must be at least 8 characters long."
	case len(s) > 72:
		return "The password must be at most 72 bytes long."
	}
	return ""
}

// Text is what the helpdesk keeps of text a person typed: valid UTF-8,
// no NUL, and none of the bidirectional controls that can make a name
// read as something else (i18n.CleanText).
func Text(s string) string { return i18n.CleanText(s) }

// Line is Text for a one-line value — a name, a subject, a label: tabs,
// line breaks and other control characters become single spaces.
func Line(s string) string {
	s = Text(s)
	if strings.IndexFunc(s, func(r rune) bool { return r < 32 || r == 127 }) < 0 {
		return strings.TrimSpace(s)
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < 32 || r == 127 || r == ' ' }), " ")
}
