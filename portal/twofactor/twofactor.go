// Package twofactor is two-step sign-in: time-based one-time codes
// (RFC 6238, by github.com/pquerna/otp, as every authenticator app
// speaks them) and single-use recovery codes. The library keeps no
// state, so Check answers the time step a code belongs to and the caller
// stores it: a code whose step is not later than the last one taken is
// refused, and so no code works twice.
package twofactor

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// period is the life of one code, in seconds; skew is how many periods
// either side of now a code is still taken (a phone's clock drifts).
const (
	period = 30
	skew   = 1
)

// NewKey makes a secret for account at issuer; its URL is what the QR
// code carries, its Secret() what a person types by hand.
func NewKey(issuer, account string) (*otp.Key, error) {
	return totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: period, Algorithm: otp.AlgorithmSHA1, Digits: otp.DigitsSix})
}

// KeyURL is the otpauth:// URL of secret, for a QR code shown again.
func KeyURL(issuer, account, secret string) string {
	k, err := otp.NewKeyFromURL("otpauth://totp/" + issuer + ":" + account + "?secret=" + secret + "&issuer=" + issuer)
	if err != nil {
		return ""
	}
	return k.URL()
}

// Check says whether code is secret's code for a time step within skew of
// now that is later than last (the step of the last code taken; 0: none),
// and which step it is.
func Check(secret, code string, now time.Time, last int64) (step int64, ok bool) {
	code = typed(code)
	if len(code) != 6 {
		return 0, false
	}
	c := int64(math.Floor(float64(now.Unix()) / period))
	for s := c - skew; s <= c+skew; s++ {
		if s <= last {
			continue
		}
		if good, err := hotp.ValidateCustom(code, uint64(s), secret, hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}); err == nil && good {
			return s, true
		}
	}
	return 0, false
}

// Code is secret's code at t (for tests and for the shell's check).
func Code(secret string, t time.Time) string {
	c, _ := totp.GenerateCode(secret, t)
	return c
}

// RecoveryCodes makes n codes to write down: each signs in once instead
// of a one-time code. Only their hashes are to be kept.
func RecoveryCodes(n int) (codes []string, hashes [][]byte) {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	for range n {
		b := make([]byte, 6)
		rand.Read(b)
		s := strings.ToLower(enc.EncodeToString(b)) // ten letters and digits
		c := s[:5] + "-" + s[5:]
		codes = append(codes, c)
		hashes = append(hashes, HashRecovery(c))
	}
	return codes, hashes
}

// HashRecovery is how a recovery code is kept and looked up: case,
// spaces and dashes do not matter.
func HashRecovery(code string) []byte {
	h := sha256.Sum256([]byte("portaldesk recovery\x00" + strings.ToLower(typed(code))))
	return h[:]
}

// typed is a code as typed, without the spaces and dashes people put in
// to read it.
func typed(code string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, code)
}

// IsRecovery says whether what was typed looks like a recovery code
// rather than a one-time code.
func IsRecovery(code string) bool { return len(strings.TrimSpace(code)) > 8 }

// Seal encrypts a secret for keeping (AES-GCM under key, bound to aad:
// a secret sealed for one place does not open in another).
func Seal(key []byte, plain, aad string) (string, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(plain), []byte(aad))), nil
}

// Open decrypts what Seal sealed under the same key and aad.
func Open(key []byte, sealed, aad string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return "", err
	}
	gcm, err := newGCM(key)
	if err != nil {
		return "", err
	}
	if len(b) < gcm.NonceSize() {
		return "", errors.New("twofactor: sealed value too short")
	}
	plain, err := gcm.Open(nil, b[:gcm.NonceSize()], b[gcm.NonceSize():], []byte(aad))
	return string(plain), err
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
