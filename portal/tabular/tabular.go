// Package tabular reads the tables people import — CSV as spreadsheets
// save it (comma, semicolon or tab; UTF-8 with or without its mark, or
// Windows-1251 as Russian Excel writes it) and XLSX (excelize) — and
// writes CSV that a spreadsheet opens without running anything.
package tabular

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
)

// ErrTooLarge is a table with more rows than the caller takes.
var ErrTooLarge = errors.New("the table has too many rows")

// ErrFormat is a file that is neither CSV nor XLSX.
var ErrFormat = errors.New("not a CSV or XLSX table")

// Read reads every row of the table in r (named name: .xlsx is a
// workbook's first sheet, anything else CSV), at most max rows, the
// header among them. Rows are trimmed of trailing empty cells; empty rows
// are kept as empty slices so that row numbers match the file's.
func Read(name string, r io.Reader, max int) ([][]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(strings.ToLower(name), ".xlsx") || bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		return readXLSX(data, max)
	}
	return readCSV(data, max)
}

func readXLSX(data []byte, max int) ([][]string, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		return nil, ErrFormat
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, ErrFormat
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		return nil, ErrFormat
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		if len(out) >= max {
			return nil, ErrTooLarge
		}
		cols, err := rows.Columns()
		if err != nil {
			return nil, ErrFormat
		}
		out = append(out, trim(cols))
	}
	return out, rows.Error()
}

func readCSV(data []byte, max int) ([][]string, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		dec, err := charmap.Windows1251.NewDecoder().Bytes(data)
		if err != nil {
			return nil, ErrFormat
		}
		data = dec
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, ErrFormat
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = delimiter(data)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	var out [][]string
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		if len(out) >= max {
			return nil, ErrTooLarge
		}
		out = append(out, trim(rec))
	}
}

// delimiter guesses the separator from the first line: the most common
// of comma, semicolon and tab outside quotes.
func delimiter(data []byte) rune {
	line, _ := bufio.NewReader(bytes.NewReader(data)).ReadString('\n')
	best, n := ',', 0
	for _, c := range []rune{',', ';', '\t'} {
		count, quoted := 0, false
		for _, r := range line {
			switch {
			case r == '"':
				quoted = !quoted
			case r == c && !quoted:
				count++
			}
		}
		if count > n {
			best, n = c, count
		}
	}
	return best
}

func trim(row []string) []string {
	for i := range row {
		row[i] = strings.TrimSpace(row[i])
	}
	for len(row) > 0 && row[len(row)-1] == "" {
		row = row[:len(row)-1]
	}
	return row
}

var plainNumber = regexp.MustCompile(`^-?[0-9]+([.,][0-9]+)?$`)

// PlainNumber says whether a spreadsheet reads the cell as a plain number.
func PlainNumber(s string) bool { return plainNumber.MatchString(s) }

// SafeCell keeps a spreadsheet from running what people typed: a cell
// beginning = + - @ or a tab or carriage return would be a formula, so it
// gets a leading apostrophe (a negative number stays a number).
func SafeCell(s string) string {
	if s == "" || plainNumber.MatchString(s) {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// Writer writes CSV rows with every cell made safe.
type Writer struct{ w *csv.Writer }

// NewWriter writes CSV to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: csv.NewWriter(w)} }

// Write writes one row.
func (w *Writer) Write(row ...string) error {
	safe := make([]string, len(row))
	for i, c := range row {
		safe[i] = SafeCell(c)
	}
	return w.w.Write(safe)
}

// Flush writes what is buffered and reports the first error.
func (w *Writer) Flush() error {
	w.w.Flush()
	return w.w.Error()
}
