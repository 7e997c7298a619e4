package portal_test

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"portaldesk/cmd/server/pdtest"
)

// TestPagesInBothLanguages: a person switches to Russian and every page
// speaks it — menus, labels, statuses, validation errors, dates — while the
// data people typed stays as typed; the portal's default language decides
// for people who have not chosen; the API answers errors in the language
// asked for.
func TestPagesInBothLanguages(t *testing.T) {
	w := newWorld(t)
	e := w.e
	admin := e.SignIn(t, "alpha", "admin@alpha.test")
	get := func(path string) string {
		t.Helper()
		r := pdtest.Do(t, admin, "GET", e.URL+path, nil)
		if r.Status != 200 {
			t.Fatalf("%s: %d", path, r.Status)
		}
		return r.Body
	}
	if b := get("/alpha/tickets"); !strings.Contains(b, "Sign out") || !strings.Contains(b, `lang="en"`) {
		t.Fatal("the portal does not start in English")
	}
	r := pdtest.Do(t, admin, "POST", e.URL+"/alpha/lang", url.Values{"lang": {"ru"}, "next": {"/alpha/tickets"}})
	if r.Status != 303 || r.Header.Get("Location") != "/alpha/tickets" {
		t.Fatalf("switching to Russian: %d %s", r.Status, r.Header.Get("Location"))
	}
	for path, want := range map[string][]string{
		"/alpha/tickets": {"Заявки", "Новая заявка", "Поиск", "Новая", "Printer jams"},
		fmt.Sprintf("/alpha/tickets/%d", w.ticket): {"Переписка", "Взять себе", "Статус", "Отправить", "Every morning."},
		"/alpha/tickets/new":                       {"Тема", "Описание", "Отправить заявку"},
		"/alpha/people":                            {"Пригласить", "Роль"},
		"/alpha/profile":                           {"Мой профиль", "Сменить пароль"},
		"/alpha/admin/settings":                    {"Язык портала", "Статусы заявок"},
		"/alpha/admin/form":                        {"Добавить поле", "Строка текста"},
		"/alpha/admin/subscription":                {"Баланс", "Пополнить", "Тарифы", "Счета"},
		"/alpha/admin/domain":                      {"Свой домен", "Адрес (имя хоста)"},
		"/alpha/help/api":                          {"Справочник API", "Вход", "Схемы"},
		"/alpha/spam":                              {"Спам", "В спаме ничего нет."},
		"/alpha/admin/mail":                        {"Отправленные письма"},
		"/alpha/stats?by=week":                     {"Статистика"},
		"/alpha/reports/labour":                    {"Трудозатраты"},
		"/alpha/admin/work-types":                  {"Прайс-лист"},
	} {
		b := get(path)
		for _, s := range want {
			if !strings.Contains(b, s) {
				t.Errorf("%s: no %q", path, s)
			}
		}
		text := regexp.MustCompile(`(?s)<code>.*?</code>`).ReplaceAllString(b, "") // identifiers are not words
		for _, en := range []string{">Sign out<", ">Tickets<", ">Settings<", ">Save<"} {
			if strings.Contains(text, en) {
				t.Errorf("%s: English %q left on a Russian page", path, en)
			}
		}
		if !strings.Contains(b, `lang="ru"`) {
			t.Errorf("%s: html lang is not ru", path)
		}
	}
	// A validation error comes back in Russian at its field, typed values kept.
	r = pdtest.Do(t, admin, "POST", e.URL+"/alpha/people", url.Values{"name": {"Иван"}, "email": {"not-an-email"}, "role": {"operator"}})
	if r.Status != 422 || !strings.Contains(r.Body, "Введите корректный адрес") || !strings.Contains(r.Body, "Иван") {
		t.Errorf("Russian validation error: %d", r.Status)
	}
	// Events in the timeline are told in Russian, dates the Russian way.
	w.api(t, w.op, "PATCH", fmt.Sprintf("/tickets/%d", w.ticket), map[string]any{"status": "In progress"})
	b := get(fmt.Sprintf("/alpha/tickets/%d", w.ticket))
	if !strings.Contains(b, "изменил(а) статус с «Новая» на «В работе»") {
		t.Error("the status event is not in Russian")
	}
	if !strings.Contains(b, ".20") { // 24.11.2026 15:04
		t.Error("no Russian-style date on the ticket page")
	}

	// Someone who never chose follows the portal's default language.
	client := e.SignIn(t, "alpha", "ca@alpha.test")
	if b := pdtest.Do(t, client, "GET", e.URL+"/alpha/tickets", nil).Body; !strings.Contains(b, "My tickets") {
		t.Fatal("the client should see English before the default changes")
	}
	r = pdtest.Do(t, admin, "POST", e.URL+"/alpha/admin/settings", url.Values{"max_files": {"10"}, "max_file_mb": {"20"}, "notify_new_ticket": {"all"}, "lang": {"ru"}})
	if r.Status != 303 {
		t.Fatalf("saving the portal language: %d %s", r.Status, r.Body)
	}
	if b := pdtest.Do(t, client, "GET", e.URL+"/alpha/tickets", nil).Body; !strings.Contains(b, "Мои заявки") {
		t.Error("the client does not follow the portal's default language")
	}
	r = pdtest.Do(t, admin, "POST", e.URL+"/alpha/admin/settings", url.Values{"max_files": {"10"}, "max_file_mb": {"20"}, "notify_new_ticket": {"all"}, "lang": {"de"}})
	if r.Status != 422 || !strings.Contains(r.Body, "Выберите английский или русский") {
		t.Errorf("an unknown language: %d", r.Status)
	}

	// The API speaks the asked language in its errors; codes stay the same.
	r = pdtest.Do(t, nil, "POST", e.URL+"/beta/api/v1/register", map[string]string{"name": "", "surname": "", "email": "x"}, "Accept-Language", "ru-RU,ru;q=0.9")
	m := r.JSON(t)["error"].(map[string]any)
	if r.Status != 422 || m["code"] != "invalid" || !strings.Contains(fmt.Sprint(m["fields"]), "Введите") {
		t.Errorf("Russian API error: %d %v", r.Status, m)
	}
	// The service's own pages follow the browser, or the visitor's pick.
	if b := pdtest.Do(t, nil, "GET", e.URL+"/", nil, "Accept-Language", "ru").Body; !strings.Contains(b, "Создайте свой портал") {
		t.Error("the landing page ignores Accept-Language")
	}
	if b := pdtest.Do(t, nil, "GET", e.URL+"/?lang=en", nil, "Accept-Language", "ru").Body; !strings.Contains(b, "Create your portal") {
		t.Error("?lang=en does not win")
	}
}
