// Package i18n translates what people read — pages, error messages,
// flashes — into the languages Portaldesk speaks, English and Russian.
//
// Messages are identified by their English text, so a page written in
// English needs no lookup and a missing translation falls back to the
// English a developer wrote. The Russian catalog is ru.json, loaded through
// go-i18n. Messages with values in them ("Between %s and %s.") are found
// again in a finished English sentence by a pattern made from the key, so a
// message built deep in the service is translated where it is shown.
package i18n

import (
	"embed"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed *.json
var files embed.FS

// Langs are the languages of the product; the first is the fallback.
var Langs = []string{"en", "ru"}

// LangNames are the languages in their own words, for pickers.
var LangNames = map[string]string{"en": "English", "ru": "Русский"}

type pattern struct {
	re  *regexp.Regexp
	id  string
	cnt int
}

// catalog is the translations, read once from the embedded files: data
// like a constant, so it is shared by the whole process.
type catalog struct {
	loc      map[string]*goi18n.Localizer
	ids      []string
	patterns []pattern
	cache    sync.Map // lang+"\x00"+id -> string
}

var load = sync.OnceValue(func() *catalog {
	b := goi18n.NewBundle(language.English)
	c := &catalog{loc: map[string]*goi18n.Localizer{}}
	for _, lang := range Langs[1:] {
		mf, err := b.LoadMessageFileFS(files, lang+".json")
		if err != nil {
			panic(fmt.Sprintf("i18n: %s.json: %v", lang, err))
		}
		for _, m := range mf.Messages {
			c.ids = append(c.ids, m.ID)
		}
		c.loc[lang] = goi18n.NewLocalizer(b, lang)
	}
	seen := map[string]bool{}
	for _, id := range c.ids {
		if seen[id] || !strings.Contains(id, "%") {
			continue
		}
		seen[id] = true
		parts := verb.Split(id, -1)
		for i := range parts {
			parts[i] = regexp.QuoteMeta(strings.ReplaceAll(parts[i], "%%", "%"))
		}
		c.patterns = append(c.patterns, pattern{re: regexp.MustCompile("^" + strings.Join(parts, "(.+?)") + "$"), id: id, cnt: len(parts) - 1})
	}
	return c
})

var verb = regexp.MustCompile(`%[sdvq]`)

// Supported reports whether lang is one of Langs.
func Supported(lang string) bool { return lang == "en" || lang == "ru" }

// Pick is the first supported language among the candidates, else English.
func Pick(candidates ...string) string {
	for _, c := range candidates {
		if Supported(c) {
			return c
		}
	}
	return "en"
}

var matcher = language.NewMatcher([]language.Tag{language.English, language.Russian})

// FromAcceptLanguage is the best of Langs for an Accept-Language header, or "".
func FromAcceptLanguage(header string) string {
	if header == "" {
		return ""
	}
	tags, _, err := language.ParseAcceptLanguage(header)
	if err != nil || len(tags) == 0 {
		return ""
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return ""
	}
	return Langs[i]
}

// lookup is the translation of id in lang, or "" when there is none.
func (c *catalog) lookup(lang, id string) string {
	loc := c.loc[lang]
	if loc == nil || id == "" {
		return ""
	}
	key := lang + "\x00" + id
	if v, ok := c.cache.Load(key); ok {
		return v.(string)
	}
	s, err := loc.Localize(&goi18n.LocalizeConfig{MessageID: id})
	if err != nil {
		s = ""
	}
	c.cache.Store(key, s)
	return s
}

// T translates the English message id into lang. With args, id is a format
// and the translated format is filled with them. Without args, a finished
// English sentence is also recognised by the formats it could come from.
func T(lang, id string, args ...any) string {
	if lang == "" || lang == "en" {
		if len(args) > 0 {
			return fmt.Sprintf(id, args...)
		}
		return id
	}
	c := load()
	if s := c.lookup(lang, id); s != "" {
		if len(args) > 0 {
			return fmt.Sprintf(s, args...)
		}
		return s
	}
	if len(args) > 0 {
		return fmt.Sprintf(id, args...)
	}
	return c.match(lang, id)
}

// Msg translates a finished English message (no values to fill in) into lang.
func Msg(lang, msg string) string {
	if lang == "" || lang == "en" {
		return msg
	}
	c := load()
	if s := c.lookup(lang, msg); s != "" {
		return s
	}
	return c.match(lang, msg)
}

// match translates a sentence that a format produced, values and all.
func (c *catalog) match(lang, msg string) string {
	for _, p := range c.patterns {
		m := p.re.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		args := make([]any, 0, p.cnt)
		for _, v := range m[1:] {
			if t := c.lookup(lang, v); t != "" {
				v = t
			}
			args = append(args, v)
		}
		f := c.lookup(lang, p.id)
		return fmt.Sprintf(verb.ReplaceAllString(f, "%s"), args...)
	}
	return msg
}

// Fields translates every message of a field-error map into a new map.
func Fields(lang string, fields map[string]string) map[string]string {
	if len(fields) == 0 || lang == "" || lang == "en" {
		return fields
	}
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		out[k] = Msg(lang, v)
	}
	return out
}

// Has reports whether lang has a translation of id (English has them all).
func Has(lang, id string) bool {
	return lang == "en" || load().lookup(lang, id) != ""
}

// DateTime formats a Unix time for lang, in UTC.
func DateTime(lang string, unix int64) string {
	return format(lang, unix, "2006-01-02 15:04", "02.01.2006 15:04")
}

// Date formats a Unix day for lang, in UTC.
func Date(lang string, unix int64) string {
	return format(lang, unix, "2006-01-02", "02.01.2006")
}

func format(lang string, unix int64, en, ru string) string {
	if unix == 0 {
		return ""
	}
	if lang == "ru" {
		en = ru
	}
	return time.Unix(unix, 0).UTC().Format(en)
}

var number = regexp.MustCompile(`\d+(?:\.\d+)?`)

// Number rewrites the numbers in s (written the English way: 1290.50) in
// lang's way, with thousands grouped: "1,290.50" in English, "1 290,50" in
// Russian.
func Number(lang, s string) string {
	group, point := ",", "."
	if lang == "ru" {
		group, point = "\u00a0", ","
		s = strings.ReplaceAll(s, " RUB", "\u00a0₽") // roubles as Russian writes them
	}
	return number.ReplaceAllStringFunc(s, func(n string) string {
		whole, frac, hasFrac := strings.Cut(n, ".")
		if len(whole) > 3 {
			var b strings.Builder
			for i, c := range whole {
				if i > 0 && (len(whole)-i)%3 == 0 {
					b.WriteString(group)
				}
				b.WriteRune(c)
			}
			whole = b.String()
		}
		if hasFrac {
			return whole + point + frac
		}
		return whole
	})
}

// Bytes is a size for people in lang: "20.0 MB", "20,0 МБ".
func Bytes(lang string, n int64) string {
	units := []string{"bytes", "KB", "MB", "GB"}
	if lang == "ru" {
		units = []string{"байт", "КБ", "МБ", "ГБ"}
	}
	var s string
	switch {
	case n >= 1<<30:
		s = fmt.Sprintf("%.1f %s", float64(n)/(1<<30), units[3])
	case n >= 1<<20:
		s = fmt.Sprintf("%.1f %s", float64(n)/(1<<20), units[2])
	case n >= 1<<10:
		s = fmt.Sprintf("%.0f %s", float64(n)/(1<<10), units[1])
	default:
		s = fmt.Sprintf("%d %s", n, units[0])
	}
	if lang == "ru" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// CleanText is s as it may be shown or kept: valid UTF-8 (invalid bytes
// become U+FFFD: a browser would guess at them, and a page must mean one
// thing) and without the bidirectional embedding, override and isolate
// controls (U+202A–U+202E, U+2066–U+2069), which can make a name, a
// subject or a file name read as something else ("invoice\u202efdp.exe").
// Right-to-left scripts need none of them. NUL goes too.
func CleanText(s string) string {
	if clean(s) {
		return s
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.Map(func(r rune) rune {
		if r == 0 || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
			return -1
		}
		return r
	}, s)
}

// clean reports whether s needs no cleaning: it is called on every value
// a hand-written page escapes, so it looks for NUL and for the lead byte
// of the bidi controls (0xE2) with the fast byte search, and checks UTF-8
// only then.
func clean(s string) bool {
	if strings.IndexByte(s, 0) >= 0 {
		return false
	}
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], 0xe2)
		if j < 0 {
			break
		}
		i += j
		if i+2 < len(s) && (s[i+1] == 0x80 && s[i+2] >= 0xaa && s[i+2] <= 0xae || s[i+1] == 0x81 && s[i+2] >= 0xa6 && s[i+2] <= 0xa9) {
			return false
		}
		i++
	}
	return utf8.ValidString(s)
}

// CleanValues is CleanText of every value (a form shown again).
func CleanValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		c := make([]string, len(vs))
		for i, s := range vs {
			c[i] = CleanText(s)
		}
		out[CleanText(k)] = c
	}
	return out
}

// N is a count with its noun in lang, by the language's plural rules
// (CLDR, through go-i18n): "1 operator", "2 operators" in English; "1
// оператор", "2 оператора", "5 операторов", "21 оператор" in Russian.
// one and other are the English forms, each with %d; other is the id of
// the Russian entry, which holds its one, few, many and other forms.
func N(lang string, n int, one, other string) string {
	if lang == "ru" {
		if loc := load().loc[lang]; loc != nil {
			if s, err := loc.Localize(&goi18n.LocalizeConfig{MessageID: other, PluralCount: n}); err == nil && s != "" {
				return fmt.Sprintf(s, n)
			}
		}
	}
	if n == 1 || n == -1 {
		return fmt.Sprintf(one, n)
	}
	return fmt.Sprintf(other, n)
}

// Duration is a span of seconds as people say it: minutes, hours or days,
// in lang ("—" for none).
func Duration(lang string, sec int64) string {
	var v, unit string
	switch {
	case sec <= 0:
		return "—"
	case sec < 3600:
		v, unit = strconv.FormatInt(sec/60, 10), "min"
	case sec < 2*86400:
		v, unit = strconv.FormatFloat(float64(sec)/3600, 'f', 1, 64), "h"
	default:
		v, unit = strconv.FormatFloat(float64(sec)/86400, 'f', 1, 64), "days"
	}
	if lang == "ru" {
		v = strings.Replace(v, ".", ",", 1)
		unit = map[string]string{"min": "мин", "h": "ч", "days": "дн."}[unit]
	}
	return v + " " + unit
}

// Unit is a price-list unit in lang, short: "hour" is "ч" in Russian.
func Unit(lang, unit string) string {
	if lang == "ru" {
		switch unit {
		case "hour":
			return "ч"
		case "piece":
			return "шт."
		}
	}
	return unit
}

// Quantities is a total such as "1.5 hour, 2 piece" (the labour report's)
// in lang: "1,5 ч, 2 шт." in Russian.
func Quantities(lang, q string) string {
	if lang != "ru" {
		return q
	}
	parts := strings.Split(q, ", ")
	for i, p := range parts {
		if n, u, ok := strings.Cut(p, " "); ok {
			parts[i] = Number(lang, n) + " " + Unit(lang, u)
		}
	}
	return strings.Join(parts, ", ")
}
