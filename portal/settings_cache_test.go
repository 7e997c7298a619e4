package portal

import (
	"context"
	"testing"
)

// TestSettingsCacheNeverKeepsARaceLoser: a snapshot of the settings read
// before a change was committed is not trusted after it, even when it is
// stored after it (two requests racing); and a change is seen at once.
func TestSettingsCacheNeverKeepsARaceLoser(t *testing.T) {
	ctx := context.Background()
	p, _ := migratedPortal(t)
	if err := p.SetSetting(ctx, "lang", "en"); err != nil {
		t.Fatal(err)
	}
	// The slower reader read "en", then the change to "ru" was committed,
	// then the reader finishes.
	stale, _ := p.ref.settings.get(p.DB, func() (map[string]string, error) {
		m, err := p.loadSettings(ctx)
		if err == nil {
			err = p.SetSetting(ctx, "lang", "ru")
		}
		return m, err
	})
	if stale["lang"] != "en" {
		t.Fatalf("the racing read saw %q", stale["lang"])
	}
	if got := p.Setting(ctx, "lang", ""); got != "ru" {
		t.Fatalf("a snapshot read before the change was used: %q", got)
	}
	if err := p.SetSetting(ctx, "lang", "en"); err != nil {
		t.Fatal(err)
	}
	if got := p.Setting(ctx, "lang", ""); got != "en" {
		t.Fatalf("a change was not seen: %q", got)
	}
	if got := p.Setting(ctx, "nothing", "dflt"); got != "dflt" {
		t.Fatalf("default: %q", got)
	}
}
