package mail

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFilesAreBounded: a portal's directory keeps its newest Keep files,
// none older than MaxAge, and Prune counts what is left in all.
func TestFilesAreBounded(t *testing.T) {
	root := t.TempDir()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, slug := range []string{"acme", "beta"} {
		dir := filepath.Join(root, slug)
		os.MkdirAll(dir, 0o750)
		for i := 0; i < 30; i++ {
			at := now.Add(-time.Duration(30-i) * 24 * time.Hour) // one a day, the last yesterday
			name := filepath.Join(dir, fmt.Sprintf("%s-%06d.eml", at.Format("20060102T150405Z"), i))
			os.WriteFile(name, []byte("0123456789"), 0o640)
			os.Chtimes(name, at, at) // written then
		}
		// A mail queued under a portal clock set in the past, written now:
		// its age is the file's, so it stays.
		past := filepath.Join(dir, "20200101T000000Z-000099.eml")
		os.WriteFile(past, []byte("0123456789"), 0o640)
		os.Chtimes(past, now, now)
		os.WriteFile(filepath.Join(dir, "other.txt"), []byte("x"), 0o640)
	}
	f := &FileSender{Dir: root, Keep: 40, MaxAge: 14 * 24 * time.Hour}
	files, bytes := f.Prune(now)
	if files != 2*15 || bytes != 2*15*10 {
		t.Fatalf("kept %d files, %d bytes; want the last 14 days of each portal", files, bytes)
	}
	f = &FileSender{Dir: root, Keep: 5}
	if files, _ := f.Prune(now); files != 10 {
		t.Fatalf("kept %d files, want the newest 5 of each portal", files)
	}
	left, _ := os.ReadDir(filepath.Join(root, "acme"))
	if len(left) != 6 || left[len(left)-2].Name() != now.Add(-24*time.Hour).Format("20060102T150405Z")+"-000029.eml" || left[0].Name() == "20200101T000000Z-000099.eml" {
		t.Fatalf("left: %v", left)
	}
}
