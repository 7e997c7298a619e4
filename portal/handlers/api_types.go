package handlers

import (
	"portaldesk/portal"
)

// The JSON API's request bodies and response envelopes that are not domain
// types. The handlers decode and encode exactly these; the OpenAPI document
// (openapi_spec.go) describes them from the same types.

// LoginInput signs in for a token; Code is the one-time code when two-step
// sign-in is on.
type LoginInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Code     string `json:"code,omitempty"`
}

// LoginResult is a new login token and whose it is.
type LoginResult struct {
	Token string       `json:"token"`
	User  *portal.User `json:"user"`
}

// RegisterResult answers every registration alike (it tells nobody who has
// an account).
type RegisterResult struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// ForgotInput asks for a password reset link.
type ForgotInput struct {
	Email string `json:"email"`
}

// ResetInput sets a new password with the mailed token.
type ResetInput struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// NewTicketInput opens a ticket: answers keyed by field name or id ("f3");
// staff may open one for a client.
type NewTicketInput struct {
	Fields   map[string]any `json:"fields"`
	Priority string         `json:"priority"`
	Client   int64          `json:"client"`
	Form     string         `json:"form,omitempty"` // a form's id or slug: its fields, group and priority
	// ExternalID is an integration's id for the ticket (staff; unique).
	ExternalID string `json:"external_id,omitempty"`
}

// TicketPatch changes a ticket (staff): a status id or name, a priority,
// an assignee ("me", "none", null or an id). Absent keys stay as they are,
// which is why apiPatchTicket reads the body key by key; this type
// describes it for the document.
type TicketPatch struct {
	Status   any      `json:"status,omitempty"`
	Priority any      `json:"priority,omitempty"`
	Assignee any      `json:"assignee,omitempty"`
	Group    any      `json:"group,omitempty"` // a group's id or name; null: no group
	Tags     []string `json:"tags,omitempty"`  // all the ticket's tags; new names are made
	// ExternalID: an integration's id for the ticket; "" clears it.
	ExternalID *string `json:"external_id,omitempty"`
}

// BulkInput applies one change to several tickets, all or none.
type BulkInput struct {
	Tickets  []int64 `json:"tickets"`
	Status   *string `json:"status"`
	Priority *string `json:"priority"`
	Assignee *string `json:"assignee"`
}

// BulkResult is how many tickets changed.
type BulkResult struct {
	Changed int `json:"changed"`
}

// MessageInput is a reply, or an internal note (staff).
type MessageInput struct {
	Body     string `json:"body"`
	Internal bool   `json:"internal"`
	// After, when set, is the newest message the writer has seen: if
	// someone else wrote since, nothing is posted (409 newer_message).
	After int64 `json:"after,omitempty"`
	// Via "email" (staff) mails the reply to a client who wrote from a
	// messenger; otherwise it goes where they wrote from last.
	Via string `json:"via,omitempty"`
}

// ParticipantInput puts a client of the portal in copy of a ticket.
type ParticipantInput struct {
	Email string `json:"email"` // the address of a client of the portal
}

// PasswordInput changes one's own password.
type PasswordInput struct {
	Current string `json:"current_password"`
	New     string `json:"new_password"`
}

// TokenInput names a new personal token.
type TokenInput = portal.NewTokenInput

// NewToken is a personal token, shown once.
type NewToken struct {
	Token string `json:"token"`
	Name  string `json:"name"`
}

// PlanInput changes the tariff or the number of operators.
type PlanInput struct {
	Tariff    *string `json:"tariff"`
	Operators *int    `json:"operators"`
}

// TopUpInput issues an invoice; Amount is in minor units (kopecks).
type TopUpInput struct {
	Amount int64  `json:"amount"`
	Promo  string `json:"promo"`
	Payer  string `json:"payer"`
}

// WorkInput logs labour: a work type's id or name, a quantity (a number,
// or "1:30" for hours), a day (YYYY-MM-DD, default today).
type WorkInput struct {
	WorkType any    `json:"work_type"`
	Quantity any    `json:"quantity"`
	Date     string `json:"date"`
	Comment  string `json:"comment"`
	Visible  bool   `json:"visible"`
}

// RatingInput rates a closed ticket from 1 to 5.
type RatingInput struct {
	Score   int    `json:"score"`
	Comment string `json:"comment"`
}

// TemplateInput is a mail template's own wording.
type TemplateInput struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// RetryInput queues failed mail again: one (ID) or all (0).
type RetryInput struct {
	ID int64 `json:"id"`
}

// InboundInput changes the portal's mail in: "allow" or "reject" mail
// from addresses that are not yet clients.
type InboundInput struct {
	portal.InboundChange
	// Addresses, when present, are the portal's own addresses (help@…),
	// replacing those it had.
	Addresses *[]string `json:"addresses,omitempty"`
	// IMAP, when present, is the mailbox to fetch (an empty host removes
	// it; an empty password keeps the stored one). It is tried at once.
	IMAP *portal.IMAPAccount `json:"imap,omitempty"`
}

// DomainInput is the portal's own host name.
type DomainInput struct {
	Host string `json:"host"`
}

// DomainState is the portal's own host name (null when none) and whether
// the tariff includes one.
type DomainState struct {
	Domain  *portal.Domain `json:"domain"`
	Allowed bool           `json:"allowed"`
}

// ProfileView is one's own account with notification choices.
type ProfileView struct {
	User   *portal.User    `json:"user"`
	Notify map[string]bool `json:"notify"`
}

// Lists the API answers with, one key each.
type (
	UserList struct {
		Users []*portal.User `json:"users"`
		// NextCursor goes on from this page of an incremental read.
		NextCursor string `json:"next_cursor,omitempty"`
	}
	StatusList struct {
		Statuses []portal.Status `json:"statuses"`
	}
	MessageList struct {
		Messages []*portal.Entry `json:"messages"`
	}
	AttachmentList struct {
		Attachments []*portal.Attachment `json:"attachments"`
	}
	TokenList struct {
		Tokens []portal.Token `json:"tokens"`
	}
	MailList struct {
		Mail []*portal.Mail `json:"mail"`
	}
	TemplateList struct {
		Templates []*portal.MailTemplate `json:"templates"`
	}
	TransactionList struct {
		Transactions []portal.Transaction `json:"transactions"`
	}
	InvoiceList struct {
		Invoices []*portal.Invoice `json:"invoices"`
	}
	TariffList struct {
		Tariffs []portal.TariffInfo `json:"tariffs"`
	}
	WorkTypeList struct {
		WorkTypes []portal.WorkType `json:"work_types"`
	}
	AuditList struct {
		Entries []portal.AuditEntry `json:"entries"`
	}
	RatingView struct {
		Rating *portal.Rating `json:"rating"`
	}
	QueuedResult struct {
		Queued int64 `json:"queued"`
	}
	TestMailResult struct {
		Result string `json:"result"`
	}
)

// GroupList is the portal's groups.
type GroupList struct {
	Groups []portal.Group `json:"groups"`
}

// AccessInput limits an operator: the groups whose tickets they see (empty:
// every ticket) and the statuses whose tickets they never see.
type AccessInput struct {
	Groups         []int64 `json:"access_groups"`
	HiddenStatuses []int64 `json:"hidden_statuses"`
}

// PresenceInput says whether a staff member is at work; going away with
// hand_back gives their open tickets back to their groups.
type PresenceInput struct {
	Present  bool `json:"present"`
	HandBack bool `json:"hand_back"`
}

// PresenceResult is a presence set, and how many tickets went back.
type PresenceResult struct {
	Present    bool `json:"present"`
	HandedBack int  `json:"handed_back"`
}

// BusinessHoursView is the portal's working time, its fields at the top
// level (set false: not set, every hour counts), also whole as "hours",
// and the years of the bundled production calendar. A PUT sends the fields
// at the top level or as {"hours": …}; {"hours": null} or {"set": false}
// counts every hour again.
type BusinessHoursView struct {
	portal.BusinessHours
	Set   bool                  `json:"set"`
	Hours *portal.BusinessHours `json:"hours"`
	Years []int                 `json:"calendar_years,omitempty"`
}

// CalendarImport adds a year of the Russian production calendar.
type CalendarImport struct {
	Year int `json:"year"`
}

// SLAPolicyList is the policies in the order they are tried.
type SLAPolicyList struct {
	Policies []portal.SLAPolicy `json:"policies"`
}

// TagList is the portal's tags.
type TagList struct {
	Tags []portal.Tag `json:"tags"`
}

// TagInput makes or changes a tag.
type TagInput struct {
	Name  string `json:"name"`
	Color string `json:"color"` // like #2563eb
}

// TriggerList is the portal's triggers in the order they run.
type TriggerList struct {
	Triggers []portal.Trigger `json:"triggers"`
}

// TriggerTestInput is a trigger (saved or not) and the ticket to try it on.
type TriggerTestInput struct {
	Trigger portal.Trigger `json:"trigger"`
	Ticket  int64          `json:"ticket"`
}

// MergeInput names the ticket to merge into.
type MergeInput struct {
	Into int64 `json:"into"`
}

// SplitInput names the message to make a ticket of, and its subject (the
// old ticket's when empty).
type SplitInput struct {
	Message int64  `json:"message"`
	Subject string `json:"subject,omitempty"`
}

// ActionList is a list of workflow actions.
type ActionList struct {
	Actions []portal.Action `json:"actions"`
}

// ArticleList is knowledge-base articles (in a list, a search's carry
// the start of their text as body and no html).
type ArticleList struct {
	Articles []portal.Article `json:"articles"`
}

// CategoryList is the knowledge base's categories.
type CategoryList struct {
	Categories []portal.Category `json:"categories"`
}

// CategoryInput makes a category.
type CategoryInput struct {
	Name     string `json:"name"`
	Position int    `json:"position"`
}

// RateArticleInput is a reader's verdict on an article.
type RateArticleInput struct {
	Helpful bool `json:"helpful"`
}

// Suggestion is an article offered while a client writes a ticket.
type Suggestion struct {
	Title   string `json:"title"`
	URL     string `json:"url"`
	Excerpt string `json:"excerpt"`
}

// SuggestionList is the suggestions for what a client types.
type SuggestionList struct {
	Articles []Suggestion `json:"articles"`
}

// CannedList is the canned replies one may use, the most used first.
type CannedList struct {
	Replies []portal.CannedReply `json:"replies"`
}

// CannedText is a canned reply filled for a ticket.
type CannedText struct {
	Text string `json:"text"`
}

// ViewList is the views one sees, with their counts.
type ViewList struct {
	Views []portal.View `json:"views"`
}

// ViewJSON makes or changes a view; filters as an object
// ({"status": "open", "assignee": "me"}) or a query string.
type ViewJSON struct {
	Name    *string      `json:"name"`
	Filters *ViewFilters `json:"filters"`
	Shared  *bool        `json:"shared"`
	Group   *int64       `json:"group"`
}

// HideViewInput hides a built-in view (mine, unassigned, unread,
// following, breaching) or shows it again.
type HideViewInput struct {
	Builtin string `json:"builtin"`
	Hidden  bool   `json:"hidden"`
}

// FormList is the portal's forms.
type FormList struct {
	Forms []portal.Form `json:"forms"`
}

// InsertArticle is a published article as the reply box inserts it.
type InsertArticle struct {
	Title string `json:"title"`
	URL   string `json:"url"`
	Text  string `json:"text"` // Markdown, as written
}

// InsertList is the articles the reply box offers.
type InsertList struct {
	Articles []InsertArticle `json:"articles"`
}
