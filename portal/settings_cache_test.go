package portal

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestSettingsCacheNeverKeepsARaceLoser: a snapshot read before a change
// was committed is not trusted once SettingsChanged has run, even when it
// is stored after it (two requests racing).
func TestSettingsCacheNeverKeepsARaceLoser(t *testing.T) {
	ctx := context.Background()
	db, err := OpenDB(filepath.Join(t.TempDir(), "p.db"), DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := MigratePortal(ctx, db.W); err != nil {
		t.Fatal(err)
	}
	p := &Portal{DB: db}
	if err := SetSetting(ctx, db.W, "lang", "en"); err != nil {
		t.Fatal(err)
	}
	stale := &settingsSnap{at: time.Now(), gen: p.settingsGen.Load(), m: map[string]string{"lang": "en"}}
	if err := SetSetting(ctx, db.W, "lang", "ru"); err != nil {
		t.Fatal(err)
	}
	p.SettingsChanged()
	p.settings.Store(stale) // the slower reader finishes after the change
	if got := p.Setting(ctx, "lang", ""); got != "ru" {
		t.Fatalf("a snapshot read before the change was used: %q", got)
	}
	if got := p.Setting(ctx, "nothing", "dflt"); got != "dflt" {
		t.Fatalf("default: %q", got)
	}
}
