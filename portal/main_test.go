package portal_test

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"portaldesk/portal"
)

func TestMain(m *testing.M) {
	portal.BcryptCost = bcrypt.MinCost
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
