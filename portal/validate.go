package portal

import (
	"fmt"
	"net/mail"
	"portaldesk/templates/i18n"
	"strings"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
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
func ValidatePassword(s string, personal ...string) string {
	switch n := utf8.RuneCountInString(s); {
	case n < MinPasswordLen:
		return fmt.Sprintf("The password must be at least %d characters long.", MinPasswordLen)
	case len(s) > 72:
		return "The password must be at most 72 bytes long."
	}
	return guessable(s, personal)
}

// MinPasswordLen is the shortest password anyone may set.
const MinPasswordLen = 10

// guessable refuses a password that is one of the common ones — the lists
// of github.com/trustelem/zxcvbn, built into the binary: leaked
// passwords, words, names — however capitalised, reversed or spelt with
// digits for letters, or that an attacker would try within a million
// guesses (keyboard rows, sequences, repeats, dates), or that is built
// on the person's own name or address.
func guessable(pw string, personal []string) string {
	r := zxcvbn.PasswordStrength(pw, personal)
	if len(r.Sequence) == 1 && r.Sequence[0].Pattern == "dictionary" {
		if r.Sequence[0].DictionaryName == "user_inputs" {
			return "The password must not be your name or email."
		}
		return "This password is one of the most common ones: choose another."
	}
	if r.Score < 2 {
		return "This password is too easy to guess: add words or other characters."
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
