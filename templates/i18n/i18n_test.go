package i18n_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"portaldesk/templates/i18n"
)

// TestEveryTemplateStringIsTranslated reads every page template and checks
// that each text it passes to "t" has a Russian translation.
func TestEveryTemplateStringIsTranslated(t *testing.T) {
	re := regexp.MustCompile("\\{\\{t (?:\"((?:[^\"\\\\]|\\\\.)*)\"|`([^`]*)`)|\"(?:Label|Help)\" \"([^\"]+)\"")
	dir := filepath.Join("..", "..", "templates")
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(path, ".html") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			id := strings.ReplaceAll(m[1]+m[2]+m[3], `\"`, `"`)
			n++
			if !i18n.Has("ru", id) {
				t.Errorf("%s: no Russian for %q", filepath.Base(path), id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 300 {
		t.Fatalf("only %d texts found in the templates: is the pattern right?", n)
	}
}

func TestTranslate(t *testing.T) {
	for _, c := range []struct{ lang, in, want string }{
		{"en", "Sign out", "Sign out"},
		{"ru", "Sign out", "Выйти"},
		{"ru", "Something nobody translated", "Something nobody translated"},
		// A finished sentence with values is found by its format.
		{"ru", "Between 1.00 ₽ and 100.00 ₽.", "От 1.00 ₽ до 100.00 ₽."},
		{"ru", "At most 200 characters.", "Не больше 200 символов."},
		{"ru", `The field "Phone" is saved.`, `Поле "Phone" сохранено.`},
		// Values that are themselves known words are translated too.
		{"ru", "Ann changed the status from New to In progress", "Ann изменил(а) статус с «Новая» на «В работе»"},
		{"ru", "The portal uses over 85% of its storage quota. Free space or choose a larger tariff under Subscription.", "Портал использует больше 85% квоты хранилища. Освободите место или выберите больший тариф в разделе «Подписка»."},
	} {
		if got := i18n.Msg(c.lang, c.in); got != c.want {
			t.Errorf("Msg(%s, %q) = %q, want %q", c.lang, c.in, got, c.want)
		}
	}
	if got := i18n.T("ru", "At most %d characters.", 5); got != "Не больше 5 символов." {
		t.Errorf("T with a value: %q", got)
	}
	for h, want := range map[string]string{"ru-RU,ru;q=0.9,en;q=0.8": "ru", "en-US": "en", "de-DE": "", "": ""} {
		if got := i18n.FromAcceptLanguage(h); got != want {
			t.Errorf("FromAcceptLanguage(%q) = %q, want %q", h, got, want)
		}
	}
	if got := i18n.DateTime("ru", 86400*365); got != "01.01.1971 00:00" {
		t.Errorf("Russian date: %s", got)
	}
}

func TestNumbersAndSizes(t *testing.T) {
	for _, c := range []struct{ lang, in, want string }{
		{"en", "1290.00 RUB", "1,290.00 RUB"},
		{"ru", "1290.00 RUB", "1\u00a0290,00\u00a0₽"},
		{"ru", "-85.50 RUB", "-85,50\u00a0₽"},
		{"ru", "85.50 EUR", "85,50 EUR"},
		{"en", "1234567.89", "1,234,567.89"},
		{"en", "850.00", "850.00"},
	} {
		if got := i18n.Number(c.lang, c.in); got != c.want {
			t.Errorf("Number(%s, %q) = %q, want %q", c.lang, c.in, got, c.want)
		}
	}
	if got := i18n.Bytes("ru", 20<<20); got != "20,0 МБ" {
		t.Errorf("Bytes ru: %q", got)
	}
	if got := i18n.Bytes("en", 1536); got != "2 KB" {
		t.Errorf("Bytes en: %q", got)
	}
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "",
		"plain":                      "plain",
		"Привет, мир":                "Привет, мир",
		"a\u202eexe.txt":             "aexe.txt",
		"\u2066x\u2069\u202ay\u202c": "xy",
		"bad\xff\xfe":                "bad\ufffd",
		"nul\x00":                    "nul",
		"арабский \u200f RLM":        "арабский \u200f RLM", // a mark, not a control: kept
		"\u2022 bullet \u2014 dash":  "\u2022 bullet \u2014 dash",
	} {
		if got := i18n.CleanText(in); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRussianPlurals: counts take the noun's form by the CLDR rules, for
// 1, 2, 5, 11, 21 (and 0, 12, 22, 101, 111), never "(s)".
func TestRussianPlurals(t *testing.T) {
	for n, want := range map[int]string{0: "0 операторов", 1: "1 оператор", 2: "2 оператора", 5: "5 операторов", 11: "11 операторов",
		12: "12 операторов", 21: "21 оператор", 22: "22 оператора", 101: "101 оператор", 111: "111 операторов"} {
		if got := i18n.N("ru", n, "%d operator", "%d operators"); got != want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int]string{1: "1 day", 2: "2 days", 0: "0 days"} {
		if got := i18n.N("en", n, "%d day", "%d days"); got != want {
			t.Errorf("en %d: %q, want %q", n, got, want)
		}
	}
	if got := i18n.N("ru", 2, "%d rating", "%d ratings"); got != "2 оценки" {
		t.Errorf("ratings: %q", got)
	}
}

// TestDurationsAndUnits: spans and units read as the language writes them.
func TestDurationsAndUnits(t *testing.T) {
	for _, c := range []struct {
		lang string
		sec  int64
		want string
	}{{"en", 0, "—"}, {"en", 600, "10 min"}, {"ru", 600, "10 мин"}, {"ru", 5400, "1,5 ч"}, {"en", 5400, "1.5 h"}, {"ru", 3 * 86400, "3,0 дн."}} {
		if got := i18n.Duration(c.lang, c.sec); got != c.want {
			t.Errorf("%s %d: %q, want %q", c.lang, c.sec, got, c.want)
		}
	}
	if i18n.Unit("ru", "hour") != "ч" || i18n.Unit("ru", "piece") != "шт." || i18n.Unit("en", "hour") != "hour" {
		t.Error("units")
	}
	if got := i18n.Quantities("ru", "1.5 hour, 2 piece"); got != "1,5 ч, 2 шт." {
		t.Errorf("quantities: %q", got)
	}
}
