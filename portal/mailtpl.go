package portal

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"text/template"
)

// Mail kinds, each with a template per language.
const (
	MailRegistration     = "registration"
	MailInvitation       = "invitation"
	MailPasswordReset    = "password_reset"
	MailRegisteredAgain  = "registered_again"
	MailEmailChanged     = "email_changed"
	MailRegisteredByMail = "registered_by_mail"
	MailTicketReceived   = "ticket_received"
	MailRegisterFirst    = "register_first"
	MailAddedToCopy      = "added_to_copy"
	MailWebhookPaused    = "webhook_paused"
	MailChatLink         = "chat_link"
	MailNewTicket        = NotifyNewTicket
	MailMessage          = NotifyMessage
	MailStatus           = NotifyStatus
	MailAssignment       = NotifyAssignment
)

// IsAnswer reports whether mail of this kind answers a received mail by
// itself (RFC 3834's auto-replied), as opposed to a notice the portal
// generates.
func IsAnswer(kind string) bool {
	return kind == MailTicketReceived || kind == MailRegisterFirst || kind == MailRegisteredByMail
}

// Languages the portal speaks.
var Languages = []string{"en", "ru"}

// MailVars are the variables a mail template may use.
type MailVars struct {
	Portal   string // the company's name
	Name     string // the recipient
	Email    string
	Password string // a generated password, on registration and invitation
	Link     string // straight to the ticket, the sign-in page or the reset form
	Number   int64  // the ticket's number
	Subject  string // the ticket's subject
	Message  string // the message text
	Author   string // who wrote or acted
	Status   string
	Role     string // operator or client, on invitations
	NewEmail string // the new sign-in address, when it is changed
}

type mailDefault struct{ subject, body string }

// defaultMail is the wording every portal starts with.
var defaultMail = map[string]map[string]mailDefault{
	MailRegistration: {
		"en": {"Your account at {{.Portal}}", "Hello, {{.Name}}!\n\nThank you for registering at {{.Portal}}.\n\nSign in: {{.Link}}\nLogin: {{.Email}}\nPassword: {{.Password}}\n\nYou can change the password in your profile after signing in.\n"},
		"ru": {"Ваша учётная запись в {{.Portal}}", "Здравствуйте, {{.Name}}!\n\nСпасибо за регистрацию в {{.Portal}}.\n\nВход: {{.Link}}\nЛогин: {{.Email}}\nПароль: {{.Password}}\n\nПароль можно сменить в профиле после входа.\n"},
	},
	MailInvitation: {
		"en": {"You are invited to {{.Portal}}", "Hello, {{.Name}}!\n\n{{.Author}} invited you to {{.Portal}} as {{if eq .Role \"client\"}}a client{{else}}an operator{{end}}.\n\nSign in: {{.Link}}\nLogin: {{.Email}}\nPassword: {{.Password}}\n\nYou can change the password in your profile after signing in.\n"},
		"ru": {"Приглашение в {{.Portal}}", "Здравствуйте, {{.Name}}!\n\n{{.Author}} приглашает вас в {{.Portal}} как {{if eq .Role \"client\"}}клиента{{else}}оператора{{end}}.\n\nВход: {{.Link}}\nЛогин: {{.Email}}\nПароль: {{.Password}}\n\nПароль можно сменить в профиле после входа.\n"},
	},
	MailPasswordReset: {
		"en": {"Reset your password at {{.Portal}}", "Hello, {{.Name}}!\n\nSomeone (we hope you) asked to reset your password at {{.Portal}}. Set a new one here within an hour:\n\n{{.Link}}\n\nIf it was not you, ignore this mail: your password stays as it is.\n"},
		"ru": {"Сброс пароля в {{.Portal}}", "Здравствуйте, {{.Name}}!\n\nКто-то (надеемся, вы) попросил сбросить пароль в {{.Portal}}. Задайте новый пароль в течение часа:\n\n{{.Link}}\n\nЕсли это были не вы, просто не обращайте внимания на это письмо.\n"},
	},
	MailRegisteredAgain: {
		"en": {"Your account at {{.Portal}}", "Hello, {{.Name}}!\n\nSomeone (we hope you) tried to register at {{.Portal}} with this address. You already have an account here: sign in with it.\n\nIf you do not remember your password, set a new one here:\n\n{{.Link}}\n\nIf it was not you, ignore this mail: nothing has changed.\n"},
		"ru": {"Ваша учётная запись в {{.Portal}}", "Здравствуйте, {{.Name}}!\n\nКто-то (надеемся, вы) пытался зарегистрироваться в {{.Portal}} с этим адресом. У вас уже есть учётная запись — входите с ней.\n\nЕсли вы не помните пароль, задайте новый здесь:\n\n{{.Link}}\n\nЕсли это были не вы, просто не обращайте внимания на это письмо: ничего не изменилось.\n"},
	},
	MailRegisteredByMail: {
		"en": {"We received your request: {{.Subject}}", "Hello, {{.Name}}!\n\nThank you for writing to {{.Portal}}: your request is received, and we answer by mail. To follow it and your other requests in the portal, set a password (the link works for 7 days):\n\n{{.Link}}\n\nYour login is {{.Email}}.\n"},
		"ru": {"Мы получили ваше обращение: {{.Subject}}", "Здравствуйте, {{.Name}}!\n\nСпасибо, что написали в {{.Portal}}: обращение получено, ответим письмом. Чтобы следить за ним и другими обращениями на портале, задайте пароль (ссылка действует 7 дней):\n\n{{.Link}}\n\nВаш логин — {{.Email}}.\n"},
	},
	MailTicketReceived: {
		"en": {"[#{{.Number}}] {{.Subject}}", "Hello, {{.Name}}!\n\nThank you for writing to {{.Portal}}: your request is received as ticket #{{.Number}}. We answer by mail; answering this mail adds to the ticket.\n\nFollow it here: {{.Link}}\n"},
		"ru": {"[#{{.Number}}] {{.Subject}}", "Здравствуйте, {{.Name}}!\n\nСпасибо, что написали в {{.Portal}}: ваше обращение принято как заявка №{{.Number}}. Мы ответим письмом; ответ на это письмо добавится к заявке.\n\nСледить за ней можно здесь: {{.Link}}\n"},
	},
	MailRegisterFirst: {
		"en": {"Re: {{.Subject}}", "Hello!\n\nThank you for writing to {{.Portal}}. We take requests from registered clients only, so your mail did not become a request.\n\nRegister here (it takes a minute), then write again from the same address: {{.Link}}\n"},
		"ru": {"Re: {{.Subject}}", "Здравствуйте!\n\nСпасибо, что написали в {{.Portal}}. Мы принимаем обращения только от зарегистрированных клиентов, поэтому ваше письмо не стало заявкой.\n\nЗарегистрируйтесь здесь (это займёт минуту) и напишите снова с того же адреса: {{.Link}}\n"},
	},
	MailAddedToCopy: {
		"en": {"[#{{.Number}}] {{.Subject}}", "Hello, {{.Name}}!\n\n{{.Author}} put you in copy of ticket #{{.Number}} ({{.Subject}}) at {{.Portal}}: you will get its replies by mail, and answering them adds to the ticket.\n\nOpen it: {{.Link}}\n\nIf you have no password yet, the link lets you set one (it works for 7 days).\n"},
		"ru": {"[#{{.Number}}] {{.Subject}}", "Здравствуйте, {{.Name}}!\n\n{{.Author}} добавил(а) вас в копию заявки №{{.Number}} ({{.Subject}}) в {{.Portal}}: ответы по ней будут приходить вам на почту, а ваш ответ на письмо добавится к заявке.\n\nОткрыть: {{.Link}}\n\nЕсли пароля у вас ещё нет, по ссылке его можно задать (она действует 7 дней).\n"},
	},
	MailWebhookPaused: {
		"en": {"A webhook of {{.Portal}} is paused", "Hello, {{.Name}}!\n\nThe endpoint {{.Subject}} has not taken the portal's webhooks for a day, so they are paused. The last answer: {{.Message}}\n\nNew events wait for it; what failed all day can be sent again from its log. Fix the endpoint, then switch it on again: {{.Link}}\n"},
		"ru": {"Вебхук {{.Portal}} приостановлен", "Здравствуйте, {{.Name}}!\n\nАдрес {{.Subject}} сутки не принимает вебхуки портала, поэтому их отправка приостановлена. Последний ответ: {{.Message}}\n\nНовые события ждут его; то, что не удалось доставить за сутки, можно отправить снова из журнала. Исправьте приёмник и включите его снова: {{.Link}}\n"},
	},
	MailChatLink: {
		"en": {"Link your {{.Author}} chat to {{.Portal}}", "Hello, {{.Name}}!\n\nSomeone asked in {{.Author}} to link their chat with {{.Portal}} to your account. If it was you, open this link within a day: the chat's requests become yours, and our answers to them arrive in the chat.\n\n{{.Link}}\n\nIf it was not you, ignore this mail: nothing changes.\n"},
		"ru": {"Привязка чата {{.Author}} к {{.Portal}}", "Здравствуйте, {{.Name}}!\n\nВ {{.Author}} попросили привязать чат с {{.Portal}} к вашей учётной записи. Если это были вы, откройте ссылку в течение суток: обращения из чата станут вашими, а ответы на них будут приходить в чат.\n\n{{.Link}}\n\nЕсли это были не вы, просто не обращайте внимания на это письмо: ничего не изменится.\n"},
	},
	MailSLABreach: {
		"en": {"[#{{.Number}}] {{.Subject}}: the {{.Status}} target passed", "The {{.Status}} target of ticket #{{.Number}} ({{.Subject}}) at {{.Portal}} has passed.\n\nOpen it: {{.Link}}\n"},
		"ru": {"[#{{.Number}}] {{.Subject}}: истёк срок {{if eq .Status \"first response\"}}первого ответа{{else if eq .Status \"next response\"}}ответа{{else}}решения{{end}}", "По заявке №{{.Number}} ({{.Subject}}) в {{.Portal}} истёк срок {{if eq .Status \"first response\"}}первого ответа{{else if eq .Status \"next response\"}}ответа на сообщение клиента{{else}}решения{{end}}.\n\nОткрыть: {{.Link}}\n"},
	},
	MailEmailChanged: {
		"en": {"Your sign-in address at {{.Portal}} is changed", "Hello, {{.Name}}!\n\n{{.Author}} changed the address you sign in to {{.Portal}} with to {{.NewEmail}}. From now on mail about your tickets goes there.\n\nIf you did not ask for it, answer this mail or write to the portal's administrator.\n\n{{.Link}}\n"},
		"ru": {"Адрес для входа в {{.Portal}} изменён", "Здравствуйте, {{.Name}}!\n\n{{.Author}} изменил(а) адрес, с которым вы входите в {{.Portal}}, на {{.NewEmail}}. Теперь письма о ваших заявках приходят туда.\n\nЕсли вы об этом не просили, ответьте на это письмо или напишите администратору портала.\n\n{{.Link}}\n"},
	},
	MailConfirm: {
		"en": {"Confirm your address at {{.Portal}}", "Hello, {{.Name}}!\n\nYour helpdesk {{.Portal}} is ready. Confirm that this address is yours:\n\n{{.Link}}\n\nUntil you do, the portal sends mail only to you: invitations and replies to your clients wait.\n"},
		"ru": {"Подтвердите адрес в {{.Portal}}", "Здравствуйте, {{.Name}}!\n\nВаша служба поддержки {{.Portal}} готова. Подтвердите, что этот адрес ваш:\n\n{{.Link}}\n\nПока адрес не подтверждён, портал пишет только вам: приглашения и ответы клиентам ждут.\n"},
	},
	MailNewTicket: {
		"en": {"[#{{.Number}}] {{.Subject}}", "{{.Author}} opened ticket #{{.Number}} at {{.Portal}}:\n\n{{.Subject}}\n\n{{.Message}}\n\nOpen it: {{.Link}}\n"},
		"ru": {"[#{{.Number}}] {{.Subject}}", "{{.Author}} создал(а) заявку №{{.Number}} в {{.Portal}}:\n\n{{.Subject}}\n\n{{.Message}}\n\nОткрыть: {{.Link}}\n"},
	},
	MailMessage: {
		"en": {"[#{{.Number}}] {{.Subject}}", "{{.Author}} wrote on ticket #{{.Number}} ({{.Subject}}):\n\n{{.Message}}\n\nReply: {{.Link}}\n"},
		"ru": {"[#{{.Number}}] {{.Subject}}", "{{.Author}} пишет в заявке №{{.Number}} ({{.Subject}}):\n\n{{.Message}}\n\nОтветить: {{.Link}}\n"},
	},
	MailStatus: {
		"en": {"[#{{.Number}}] {{.Subject}}", "Hello, {{.Name}}!\n\nThe status of your ticket #{{.Number}} ({{.Subject}}) is now: {{.Status}}.\n\n{{.Link}}\n\nIf the ticket is done, tell us how we did: the link above lets you rate it.\n"},
		"ru": {"[#{{.Number}}] {{.Subject}}", "Здравствуйте, {{.Name}}!\n\nСтатус вашей заявки №{{.Number}} ({{.Subject}}): {{.Status}}.\n\n{{.Link}}\n\nЕсли заявка выполнена, оцените нашу работу по ссылке выше.\n"},
	},
	MailAssignment: {
		"en": {"[#{{.Number}}] {{.Subject}}", "{{.Author}} assigned ticket #{{.Number}} ({{.Subject}}) to you.\n\n{{.Link}}\n"},
		"ru": {"[#{{.Number}}] {{.Subject}}", "{{.Author}} назначил(а) вам заявку №{{.Number}} ({{.Subject}}).\n\n{{.Link}}\n"},
	},
}

// MailKinds lists the kinds of mail with their labels, for the admin.
var MailKinds = []struct{ ID, Label string }{
	{MailRegistration, "Registration: login and password"},
	{MailInvitation, "Invitation of an operator or client"},
	{MailPasswordReset, "Password reset link"},
	{MailRegisteredAgain, "Registration with an address already registered"},
	{MailConfirm, "Confirmation of the admin's address, after signup"},
	{MailEmailChanged, "Sign-in address changed (to the old address)"},
	{MailRegisteredByMail, "A new client's first mail received: a link to set a password"},
	{MailTicketReceived, "A client's mail received as a ticket: its number"},
	{MailRegisterFirst, "Mail from an unknown address when new clients by mail are off: how to register"},
	{MailAddedToCopy, "Put in copy of a ticket (with a link to set a password for someone new)"},
	{MailWebhookPaused, "A webhook endpoint paused after a day of failures (to admins)"},
	{MailChatLink, "A link to link a Telegram or VK chat to a client's account"},
	{MailNewTicket, "New ticket (to operators)"},
	{MailMessage, "New message"},
	{MailStatus, "Status change (to the client)"},
	{MailAssignment, "Assignment (to the operator)"},
	{MailSLABreach, "An SLA target passed (to whoever works the ticket)"},
}

// MailTemplate is one kind of mail in one language.
type MailTemplate struct {
	Kind    string `json:"kind"`
	Lang    string `json:"lang"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
	Custom  bool   `json:"custom"`
}

// mailTemplates keeps each template text parsed once, whichever portal and
// person it is rendered for (a new ticket told to ten staff parsed it ten
// times). Texts are few: the defaults and the admins' own wordings.
var mailTemplates sync.Map // source → *template.Template

func renderText(src string, v MailVars) (string, error) {
	var t *template.Template
	if c, ok := mailTemplates.Load(src); ok {
		t = c.(*template.Template)
	} else {
		var err error
		if t, err = template.New("").Option("missingkey=error").Parse(src); err != nil {
			return "", err
		}
		mailTemplates.Store(src, t)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

func normLang(lang string) string {
	if lang == "ru" {
		return "ru"
	}
	return "en"
}

// MailTemplateFor returns the admin's wording, or the default.
func (p *Portal) MailTemplateFor(ctx context.Context, kind, lang string) (*MailTemplate, error) {
	lang = normLang(lang)
	def, ok := defaultMail[kind]
	if !ok {
		return nil, ErrNotFound
	}
	// Kept while nobody writes a template: a new ticket told to ten staff
	// reads it once, not ten times.
	t, err := p.ref.templates.get(p.DB, [2]string{kind, lang}, func() (MailTemplate, error) {
		t := MailTemplate{Kind: kind, Lang: lang, Subject: def[lang].subject, Body: def[lang].body}
		err := p.q.QueryRow(ctx, "SELECT subject, body FROM mail_templates WHERE kind = ? AND lang = ?", kind, lang).Scan(&t.Subject, &t.Body)
		switch {
		case err == nil:
			t.Custom = true
		case !errors.Is(err, sql.ErrNoRows):
			return t, err
		}
		return t, nil
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// RenderMail fills the template for kind in lang. A broken custom template
// never stops mail: the default is used, and the admin is told.
// The note to the admin is written where p writes: inside the caller's
// transaction when p is bound to one.
func (p *Portal) RenderMail(ctx context.Context, kind, lang string, v MailVars) (subject, body string) {
	lang = normLang(lang)
	if v.Portal == "" {
		v.Portal = p.company()
	}
	t, err := p.MailTemplateFor(ctx, kind, lang)
	if err == nil {
		subject, err = renderText(t.Subject, v)
		if err == nil {
			body, err = renderText(t.Body, v)
		}
		if err == nil {
			return strings.TrimSpace(subject), body
		}
		p.noteTemplateError(ctx, fmt.Sprintf("The %s template (%s) failed and the default was sent instead: %v", kind, lang, err))
	}
	def := defaultMail[kind][lang]
	subject, _ = renderText(def.subject, v)
	body, _ = renderText(def.body, v)
	return strings.TrimSpace(subject), body
}

func (p *Portal) noteTemplateError(ctx context.Context, msg string) {
	_ = p.SetSetting(ctx, "mail_template_error", truncate(msg, 500))
}

// SaveMailTemplate stores the admin's wording after checking that it renders.
func (p *Portal) SaveMailTemplate(ctx context.Context, actor *User, kind, lang, subject, body string) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	if _, ok := defaultMail[kind]; !ok || (lang != "en" && lang != "ru") {
		return ErrNotFound
	}
	subject, body = Text(subject), Text(body)
	errs := map[string]string{}
	sample := SampleMailVars(p.company(), lang)
	if strings.TrimSpace(subject) == "" {
		errs["subject"] = "Write a subject."
	} else if _, err := renderText(subject, sample); err != nil {
		errs["subject"] = "The template does not work: " + err.Error()
	}
	if strings.TrimSpace(body) == "" {
		errs["body"] = "Write the text."
	} else if _, err := renderText(body, sample); err != nil {
		errs["body"] = "The template does not work: " + err.Error()
	}
	if len(errs) > 0 {
		return &FieldErrors{Fields: errs}
	}
	_, err := p.q.Exec(ctx, "INSERT INTO mail_templates (kind, lang, subject, body) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET subject = excluded.subject, body = excluded.body",
		kind, lang, subject, body)
	if err == nil {
		_ = p.SetSetting(ctx, "mail_template_error", "")
	}
	return err
}

// ResetMailTemplate goes back to the default wording.
func (p *Portal) ResetMailTemplate(ctx context.Context, actor *User, kind, lang string) error {
	if actor.Role != RoleAdmin {
		return ErrForbidden
	}
	_, err := p.q.Exec(ctx, "DELETE FROM mail_templates WHERE kind = ? AND lang = ?", kind, lang)
	return err
}

// PreviewMail renders a template the admin is editing with sample values
// in its language.
func (p *Portal) PreviewMail(lang, subject, body string) (string, string, error) {
	v := SampleMailVars(p.company(), lang)
	s, err := renderText(subject, v)
	if err != nil {
		return "", "", err
	}
	b, err := renderText(body, v)
	return s, b, err
}

// SampleMailVars are the values of a template's preview, in the
// template's language.
func SampleMailVars(portal, lang string) MailVars {
	if lang == "ru" {
		return MailVars{Portal: portal, Name: "Анна Смирнова", Email: "anna@example.com", Password: "Xy7pQ2mK9aLs", Link: "https://support.example.com/tickets/42",
			Number: 42, Subject: "Принтер зажёвывает бумагу", Message: "С понедельника зажёвывает каждую вторую страницу.", Author: "Олег Петров", Status: "В работе", Role: "operator", NewEmail: "anna.smirnova@example.com"}
	}
	return MailVars{Portal: portal, Name: "Anna Smith", Email: "anna@example.com", Password: "Xy7pQ2mK9aLs", Link: "https://support.example.com/tickets/42",
		Number: 42, Subject: "The printer jams", Message: "It jams on every second page since Monday.", Author: "Oleg Petrov", Status: "In progress", Role: "operator", NewEmail: "anna.smith@example.com"}
}
