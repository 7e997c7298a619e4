package tabular

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
)

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
		if got := SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRead: CSV with semicolons in Windows-1251 as Russian Excel saves it,
// with a byte-order mark and commas, with quoted separators; XLSX; too
// many rows; a file that is neither.
func TestRead(t *testing.T) {
	cp, _ := charmap.Windows1251.NewEncoder().String("Имя;Почта\nИван;ivan@example.ru\n")
	rows, err := Read("clients.csv", strings.NewReader(cp), 10)
	if err != nil || len(rows) != 2 || rows[1][0] != "Иван" || rows[1][1] != "ivan@example.ru" {
		t.Fatalf("Windows-1251 with semicolons: %q %v", rows, err)
	}
	rows, err = Read("a.csv", strings.NewReader("\xef\xbb\xbfname,email\n\"Smith, John\",john@example.com,,\n"), 10)
	if err != nil || len(rows[1]) != 2 || rows[1][0] != "Smith, John" {
		t.Fatalf("UTF-8 with a mark: %q %v", rows, err)
	}
	if _, err := Read("a.csv", strings.NewReader("a\nb\nc\n"), 2); err != ErrTooLarge {
		t.Fatalf("too many rows: %v", err)
	}
	if _, err := Read("a.csv", bytes.NewReader([]byte{0, 1, 2, 0xff}), 2); err == nil {
		t.Fatal("binary taken for a table")
	}
	f := excelize.NewFile()
	_ = f.SetSheetRow("Sheet1", "A1", &[]any{"Название", "ИНН"})
	_ = f.SetSheetRow("Sheet1", "A2", &[]any{"ООО «Ромашка»", 7707083893})
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err = Read("orgs.xlsx", &buf, 10)
	if err != nil || len(rows) != 2 || rows[1][0] != "ООО «Ромашка»" || rows[1][1] != "7707083893" {
		t.Fatalf("XLSX: %q %v", rows, err)
	}
}
