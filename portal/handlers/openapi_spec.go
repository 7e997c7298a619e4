package handlers

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"portaldesk/portal"
	"portaldesk/portal/web"
)

// The OpenAPI document of a portal's JSON API is built from apiOps below
// and from the Go types the handlers decode and encode, so the schemas say
// what the code does. TestOpenAPICoversEveryRoute fails on a route of the
// router that apiOps lacks (or the reverse), and TestOpenAPIResponses
// validates real answers against the document.

// Who may call an operation.
const (
	anyone   = "anyone"
	signedIn = "anyone signed in"
	staff    = "operators and admins"
	admins   = "admins"
)

// apiOp is one operation of the API.
type apiOp struct {
	Method, Path string
	Tag, Summary string
	Who          string
	Params       []apiParam
	Body         any // a value of the request body's type (nil: none)
	Status       int // of success
	Resp         any // a value of the response's type (nil: no body)
	Media        string
	Errors       []int
}

type apiParam struct {
	Name, Type, Doc string
	Enum            []string
}

var (
	pageParam = apiParam{"page", "integer", "page number, from 1", nil}
	// syncParams read a list incrementally, in the order its rows changed.
	syncParams = []apiParam{{"updated_since", "string", "rows changed at or after this moment (unix seconds or RFC 3339), oldest change first, 100 a page", nil},
		{"cursor", "string", "next_cursor of the page before: the read goes on from there", nil}}
	periodParam = []apiParam{{"from", "string", "first day, YYYY-MM-DD", nil}, {"to", "string", "last day, YYYY-MM-DD", nil},
		{"by", "string", "grouping", []string{"day", "week", "month"}}, {"format", "string", "csv for a spreadsheet", []string{"json", "csv"}}}
)

// apiOps lists every operation the API serves, in the reference's order.
var apiOps = []apiOp{
	{Method: "POST", Path: "/login", Tag: "Sign-in", Summary: "Sign in for a login token (30 days). With two-step sign-in on, send the app's code as code.", Who: anyone,
		Body: LoginInput{}, Status: 200, Resp: LoginResult{}, Errors: []int{400, 401, 429}},
	{Method: "POST", Path: "/logout", Tag: "Sign-in", Summary: "End the token the request carries.", Who: signedIn, Status: 204, Errors: []int{401}},
	{Method: "GET", Path: "/me", Tag: "Sign-in", Summary: "The person the token belongs to.", Who: signedIn, Status: 200, Resp: portal.User{}, Errors: []int{401}},
	{Method: "PUT", Path: "/me/list-mode", Tag: "Sign-in", Summary: "Remember how the caller sees the tickets list: table, compact or split (the list beside the open ticket).", Who: signedIn,
		Body: ListModeInput{}, Status: 200, Resp: portal.User{}, Errors: []int{400, 401, 422}},
	{Method: "POST", Path: "/register", Tag: "Sign-in", Summary: "Register as a client: the password is mailed. The answer is the same whether or not the address has an account.", Who: anyone,
		Body: portal.NewPerson{}, Status: 202, Resp: RegisterResult{}, Errors: []int{400, 422, 429}},
	{Method: "POST", Path: "/password/forgot", Tag: "Sign-in", Summary: "Mail a link to set a new password (the same answer for any address).", Who: anyone,
		Body: ForgotInput{}, Status: 202, Errors: []int{400, 429}},
	{Method: "POST", Path: "/password/reset", Tag: "Sign-in", Summary: "Set a new password with the mailed token; every session and token of the person ends.", Who: anyone,
		Body: ResetInput{}, Status: 200, Resp: LoginResult{}, Errors: []int{400, 422}},

	{Method: "GET", Path: "/tickets", Tag: "Tickets", Summary: "The tickets table: every ticket for staff, their own for a client; 50 a page with the total.", Who: signedIn,
		Params: []apiParam{{"status", "string", "a status id or name, open or closed", nil}, {"assignee", "string", "me, none, any or an operator's id", nil},
			{"client", "integer", "a client's id (staff)", nil}, {"group", "string", "a group's id or name, or none (staff)", nil}, {"tag", "string", "a tag's name (staff)", nil}, {"form", "integer", "the form tickets came through (staff)", nil},
			{"action", "integer", "a workflow action performed on it (staff)", nil}, {"action_by", "integer", "who performed it (staff)", nil},
			{"action_field", "string", "what the action asked for: name=value (staff)", nil},
			{"following", "integer", "1: only tickets I follow (staff)", nil}, {"sla", "string", "late: a target passed or due now (staff)", nil}, {"priority", "string", "", []string{"low", "normal", "high", "urgent"}},
			{"q", "string", "words to find in subjects, descriptions, answers and messages", nil}, {"unread", "integer", "1: only tickets with news for me (staff)", nil},
			{"external_id", "string", "the ticket an integration knows by this id (staff)", nil}, {"organization", "integer", "tickets of an organisation's clients (staff)", nil},
			{"sort", "string", "", []string{"activity", "created", "priority"}}, {"order", "string", "", []string{"asc", "desc"}}, pageParam, syncParams[0], syncParams[1]},
		Status: 200, Resp: portal.TicketList{}, Errors: []int{401, 422}},
	{Method: "POST", Path: "/tickets", Tag: "Tickets", Summary: "Open a ticket: the questionnaire's answers keyed by field name or id (f3).", Who: signedIn,
		Body: NewTicketInput{}, Status: 201, Resp: portal.Ticket{}, Errors: []int{400, 401, 422, 507}},
	{Method: "POST", Path: "/tickets/bulk", Tag: "Tickets", Summary: "Change up to 200 tickets at once (a status, a priority, an assignee): all of them or none.", Who: staff,
		Body: BulkInput{}, Status: 200, Resp: BulkResult{}, Errors: []int{400, 401, 403, 422}},
	{Method: "GET", Path: "/tickets/{n}", Tag: "Tickets", Summary: "A ticket with its answers and files. Its ETag sent back as If-None-Match answers 304 while it is unchanged.", Who: signedIn, Status: 200, Resp: TicketView{}, Errors: []int{401, 404}},
	{Method: "PATCH", Path: "/tickets/{n}", Tag: "Tickets", Summary: "Change the status, priority, assignee, group or tags; each change is an event in the timeline. A group that assigns by itself gives the ticket to a member at once.", Who: staff,
		Body: TicketPatch{}, Status: 200, Resp: portal.Ticket{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "DELETE", Path: "/tickets/{n}", Tag: "Tickets", Summary: "Delete a ticket with its messages and files.", Who: admins, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "GET", Path: "/tickets/{n}/messages", Tag: "Tickets", Summary: "The conversation, oldest first; internal notes only for staff.", Who: signedIn,
		Status: 200, Resp: MessageList{}, Errors: []int{401, 404}},
	{Method: "POST", Path: "/tickets/{n}/messages", Tag: "Tickets", Summary: "Reply, or (staff) write an internal note the client never sees.", Who: signedIn,
		Body: MessageInput{}, Status: 201, Resp: portal.Entry{}, Errors: []int{400, 401, 404, 409, 422, 507}},
	{Method: "POST", Path: "/tickets/{n}/attachments", Tag: "Tickets", Summary: "Attach files (multipart, field file; message: a message id to attach them to). All or none.", Who: signedIn,
		Body: "multipart", Status: 201, Resp: AttachmentList{}, Errors: []int{400, 401, 404, 413, 422, 507}},
	{Method: "GET", Path: "/attachments/{id}", Tag: "Tickets", Summary: "Download a file.", Who: signedIn, Status: 200, Resp: "binary", Errors: []int{401, 404}},
	{Method: "GET", Path: "/tickets/{n}/work", Tag: "Labour", Summary: "Labour logged on a ticket (a client sees what is marked visible).", Who: signedIn,
		Status: 200, Resp: portal.TicketWork{}, Errors: []int{401, 404}},
	{Method: "POST", Path: "/tickets/{n}/work", Tag: "Labour", Summary: "Log labour against the price list.", Who: staff,
		Body: WorkInput{}, Status: 201, Resp: portal.WorkEntry{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "POST", Path: "/tickets/{n}/participants", Tag: "Tickets", Summary: "Put a client of the portal in copy (staff, or the ticket's client adding a colleague): they see the ticket and its replies.", Who: signedIn,
		Body: ParticipantInput{}, Status: 201, Resp: portal.Person{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "DELETE", Path: "/tickets/{n}/participants/{id}", Tag: "Tickets", Summary: "Take someone out of copy (staff), or leave the copy (the participant).", Who: signedIn,
		Status: 204, Errors: []int{401, 403, 404}},
	{Method: "POST", Path: "/tickets/{n}/merge", Tag: "Tickets", Summary: "Merge this ticket into another: messages, files, labour, tags and people in copy move; this one stays closed, as a link.", Who: staff,
		Body: MergeInput{}, Status: 200, Resp: portal.Ticket{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "POST", Path: "/tickets/{n}/split", Tag: "Tickets", Summary: "Make a client's message a ticket of its own, with its files.", Who: staff,
		Body: SplitInput{}, Status: 201, Resp: portal.Ticket{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "GET", Path: "/tickets/{n}/rating", Tag: "Tickets", Summary: "The client's rating of a closed ticket (null until rated).", Who: signedIn,
		Status: 200, Resp: RatingView{}, Errors: []int{401, 404}},
	{Method: "POST", Path: "/tickets/{n}/rating", Tag: "Tickets", Summary: "Rate a closed ticket from 1 to 5 (its client).", Who: signedIn,
		Body: RatingInput{}, Status: 200, Resp: portal.Rating{}, Errors: []int{400, 401, 403, 404, 422}},

	{Method: "GET", Path: "/groups", Tag: "Groups", Summary: "Groups (teams) with their members, how they assign tickets and their open tickets.", Who: staff,
		Status: 200, Resp: GroupList{}, Errors: []int{401, 403}},
	{Method: "POST", Path: "/groups", Tag: "Groups", Summary: "Make a group: name, members (staff ids), assignment (manual, round_robin, least_open), max_open.", Who: admins,
		Body: portal.GroupChange{}, Status: 201, Resp: portal.Group{}, Errors: []int{400, 401, 403, 422}},
	{Method: "PATCH", Path: "/groups/{id}", Tag: "Groups", Summary: "Change a group; members, when given, replace the list.", Who: admins,
		Body: portal.GroupChange{}, Status: 200, Resp: portal.Group{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "DELETE", Path: "/groups/{id}", Tag: "Groups", Summary: "Delete a group; its tickets belong to no group.", Who: admins, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "PUT", Path: "/users/{id}/access", Tag: "Groups", Summary: "Limit an operator to some groups' tickets and keep some statuses' tickets from them (empty: no limit).", Who: admins,
		Body: AccessInput{}, Status: 200, Resp: portal.User{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "PUT", Path: "/users/{id}/presence", Tag: "Groups", Summary: "At work or away (one's own, or an admin anyone's); away with hand_back gives open tickets back to their groups.", Who: staff,
		Body: PresenceInput{}, Status: 200, Resp: PresenceResult{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "GET", Path: "/business-hours", Tag: "Service levels", Summary: "The working hours SLA clocks count in (hours null: every hour counts), and the years of the bundled production calendar.", Who: staff,
		Status: 200, Resp: BusinessHoursView{}, Errors: []int{401, 403}},
	{Method: "PUT", Path: "/business-hours", Tag: "Service levels", Summary: "Set the working hours: time zone, the week's hours, holidays and weekend days worked; open tickets' clocks follow.", Who: admins,
		Body: BusinessHoursView{}, Status: 200, Resp: BusinessHoursView{}, Errors: []int{400, 401, 403, 422}},
	{Method: "POST", Path: "/business-hours/import", Tag: "Service levels", Summary: "Add a year of the Russian production calendar (holidays and moved working days).", Who: admins,
		Body: CalendarImport{}, Status: 200, Resp: BusinessHoursView{}, Errors: []int{400, 401, 403, 422}},
	{Method: "GET", Path: "/sla-policies", Tag: "Service levels", Summary: "SLA policies in the order they are tried.", Who: staff, Status: 200, Resp: SLAPolicyList{}, Errors: []int{401, 403}},
	{Method: "POST", Path: "/sla-policies", Tag: "Service levels", Summary: "Make a policy: first-response, next-response and resolution targets in working minutes, for priorities and groups (none: every ticket).", Who: admins,
		Body: portal.SLAPolicyChange{}, Status: 201, Resp: portal.SLAPolicy{}, Errors: []int{400, 401, 403, 422}},
	{Method: "PATCH", Path: "/sla-policies/{id}", Tag: "Service levels", Summary: "Change a policy; open tickets' clocks follow.", Who: admins,
		Body: portal.SLAPolicyChange{}, Status: 200, Resp: portal.SLAPolicy{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "DELETE", Path: "/sla-policies/{id}", Tag: "Service levels", Summary: "Delete a policy.", Who: admins, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "GET", Path: "/tags", Tag: "Automation", Summary: "The portal's tags.", Who: staff, Status: 200, Resp: TagList{}, Errors: []int{401, 403}},
	{Method: "POST", Path: "/tags", Tag: "Automation", Summary: "Make a tag (staff also make them by naming them on a ticket).", Who: admins,
		Body: TagInput{}, Status: 201, Resp: portal.Tag{}, Errors: []int{400, 401, 403, 422}},
	{Method: "PATCH", Path: "/tags/{id}", Tag: "Automation", Summary: "Rename or recolour a tag.", Who: admins,
		Body: TagInput{}, Status: 200, Resp: portal.Tag{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "DELETE", Path: "/tags/{id}", Tag: "Automation", Summary: "Delete a tag and take it off every ticket.", Who: admins, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "GET", Path: "/triggers", Tag: "Automation", Summary: "Triggers in the order they run.", Who: admins, Status: 200, Resp: TriggerList{}, Errors: []int{401, 403}},
	{Method: "POST", Path: "/triggers", Tag: "Automation", Summary: "Make a trigger: an event (create, update, message, or time: looked at every minute), conditions that must all hold, actions in order, stop.", Who: admins,
		Body: portal.Trigger{}, Status: 201, Resp: portal.Trigger{}, Errors: []int{400, 401, 403, 422}},
	{Method: "PUT", Path: "/triggers/{id}", Tag: "Automation", Summary: "Replace a trigger.", Who: admins,
		Body: portal.Trigger{}, Status: 200, Resp: portal.Trigger{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "DELETE", Path: "/triggers/{id}", Tag: "Automation", Summary: "Delete a trigger.", Who: admins, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "POST", Path: "/triggers/test", Tag: "Automation", Summary: "Try a trigger (saved or not) on an existing ticket: which conditions hold; nothing changes.", Who: admins,
		Body: TriggerTestInput{}, Status: 200, Resp: portal.TriggerTest{}, Errors: []int{400, 401, 403, 422}},
	{Method: "GET", Path: "/actions", Tag: "Workflow", Summary: "The workflow's actions, in order.", Who: staff, Status: 200, Resp: ActionList{}, Errors: []int{401, 403}},
	{Method: "POST", Path: "/actions", Tag: "Workflow", Summary: "Make an action: statuses it is offered in, the status it leads to, roles and groups, comment, assignee, fields, its mail.", Who: admins,
		Body: portal.Action{}, Status: 201, Resp: portal.Action{}, Errors: []int{400, 401, 403, 422}},
	{Method: "PATCH", Path: "/actions/{id}", Tag: "Workflow", Summary: "Change an action; the keys sent change.", Who: admins,
		Body: portal.Action{}, Status: 200, Resp: portal.Action{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "DELETE", Path: "/actions/{id}", Tag: "Workflow", Summary: "Delete an action; what it did stays in the history.", Who: admins, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "GET", Path: "/tickets/{n}/actions", Tag: "Workflow", Summary: "The actions the caller may perform on the ticket as it is now.", Who: signedIn,
		Status: 200, Resp: ActionList{}, Errors: []int{401, 404}},
	{Method: "POST", Path: "/tickets/{n}/actions/{id}", Tag: "Workflow", Summary: "Perform an action: comment, fields, assignee (404 for one not offered to the caller here).", Who: signedIn,
		Body: portal.ActionInput{}, Status: 200, Resp: portal.Ticket{}, Errors: []int{400, 401, 404, 422}},
	{Method: "GET", Path: "/kb/articles", Tag: "Knowledge base", Summary: "Articles and info pages the caller may read (staff: drafts too; without a token: published, public ones).", Who: anyone,
		Params: []apiParam{{"kind", "string", "", []string{"article", "page"}}}, Status: 200, Resp: ArticleList{}, Errors: []int{}},
	{Method: "POST", Path: "/kb/articles", Tag: "Knowledge base", Summary: "Write an article or info page in Markdown (rendered and sanitised); the answer carries its id and slug.", Who: staff,
		Body: portal.ArticleInput{}, Status: 201, Resp: portal.Article{}, Errors: []int{400, 401, 403, 422}},
	{Method: "PATCH", Path: "/kb/articles/{id}", Tag: "Knowledge base", Summary: "Change an article; a draft is never served publicly.", Who: staff,
		Body: portal.ArticleInput{}, Status: 200, Resp: portal.Article{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "DELETE", Path: "/kb/articles/{id}", Tag: "Knowledge base", Summary: "Delete an article.", Who: staff, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "POST", Path: "/kb/articles/{id}/rate", Tag: "Knowledge base", Summary: "Say whether an article helped.", Who: anyone,
		Body: RateArticleInput{}, Status: 204, Errors: []int{400, 404}},
	{Method: "GET", Path: "/kb/search", Tag: "Knowledge base", Summary: "Search the articles the caller may read, best first.", Who: anyone,
		Params: []apiParam{{"q", "string", "words to find", nil}, {"limit", "integer", "at most 50", nil}}, Status: 200, Resp: ArticleList{}, Errors: []int{}},
	{Method: "GET", Path: "/widget", Tag: "Website widget", Summary: "What the website widget draws itself from: its settings, the forms with their fields, whether there is help to search, and its words in the caller's language. Sites the admin allows get Access-Control-Allow-Origin; 404 while it is off.", Who: anyone,
		Status: 200, Resp: WidgetSetupView{}, Errors: []int{403, 404}},
	{Method: "GET", Path: "/widget/search", Tag: "Website widget", Summary: "Published, public articles for the widget's search, best first (at most 5).", Who: anyone,
		Params: []apiParam{{"q", "string", "words to find", nil}}, Status: 200, Resp: WidgetHits{}, Errors: []int{403, 404}},
	{Method: "POST", Path: "/widget/tickets", Tag: "Website widget", Summary: "A visitor's request from the widget (JSON; sent as text/plain so that a browser needs no preflight): a ticket of the client with that address, or of a new one who is mailed a link to set a password. shown comes from GET /widget; website must stay empty.", Who: anyone,
		Body: WidgetTicketInput{}, Status: 201, Resp: WidgetTicketCreated{}, Errors: []int{400, 403, 404, 422, 429}},
	{Method: "GET", Path: "/widget/settings", Tag: "Website widget", Summary: "The widget's settings.", Who: admins, Status: 200, Resp: portal.Widget{}, Errors: []int{401, 403}},
	{Method: "PUT", Path: "/widget/settings", Tag: "Website widget", Summary: "Change the widget's settings (on, allowed sites, button text, colour, form); all or nothing.", Who: admins,
		Body: portal.WidgetInput{}, Status: 200, Resp: portal.Widget{}, Errors: []int{400, 401, 403, 422}},
	{Method: "GET", Path: "/kb/articles/{id}/images", Tag: "Knowledge base", Summary: "An article's images, each with the Markdown line that shows it.", Who: staff,
		Status: 200, Resp: ArticleImageList{}, Errors: []int{401, 403, 404}},
	{Method: "POST", Path: "/kb/articles/{id}/images", Tag: "Knowledge base", Summary: "Upload an image into an article (multipart, field image: PNG, JPEG, GIF or WebP; counted against the disk quota); paste its markdown into the article.", Who: staff,
		Body: "multipart", Status: 201, Resp: portal.ArticleImage{}, Errors: []int{400, 401, 403, 404, 413, 422, 507}},
	{Method: "DELETE", Path: "/kb/images/{iid}", Tag: "Knowledge base", Summary: "Delete an article's image.", Who: staff, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "GET", Path: "/webhooks", Tag: "Webhooks", Summary: "The portal's webhook endpoints (never their secrets).", Who: admins, Status: 200, Resp: WebhookList{}, Errors: []int{401, 403}},
	{Method: "POST", Path: "/webhooks", Tag: "Webhooks", Summary: "Add an endpoint: url (public http or https), events, active; the answer carries its secret, shown this once. Tariffs with the API.", Who: admins,
		Body: portal.WebhookInput{}, Status: 201, Resp: portal.Webhook{}, Errors: []int{400, 401, 403, 422}},
	{Method: "PATCH", Path: "/webhooks/{id}", Tag: "Webhooks", Summary: "Change an endpoint; switching a paused one on retries what waits.", Who: admins,
		Body: portal.WebhookInput{}, Status: 200, Resp: portal.Webhook{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "DELETE", Path: "/webhooks/{id}", Tag: "Webhooks", Summary: "Delete an endpoint with its log.", Who: admins, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "GET", Path: "/webhooks/{id}/deliveries", Tag: "Webhooks", Summary: "An endpoint's latest 50 deliveries: payload, state, attempts, the answer's status and first bytes, duration.", Who: admins,
		Status: 200, Resp: DeliveryList{}, Errors: []int{401, 403, 404}},
	{Method: "POST", Path: "/webhooks/{id}/deliveries/{did}/resend", Tag: "Webhooks", Summary: "Send a delivery again (the same event id).", Who: admins, Status: 202, Errors: []int{401, 403, 404, 422}},
	{Method: "POST", Path: "/webhooks/{id}/test", Tag: "Webhooks", Summary: "Send a ping event to an endpoint.", Who: admins, Status: 202, Errors: []int{401, 403, 404, 422}},
	{Method: "POST", Path: "/webhooks/{id}/rotate", Tag: "Webhooks", Summary: "Give an endpoint a new secret (in the answer); the old one still signs, beside it, for a day.", Who: admins,
		Status: 200, Resp: portal.Webhook{}, Errors: []int{401, 403, 404, 422}},
	{Method: "GET", Path: "/kb/design", Tag: "Knowledge base", Summary: "How the public help looks: title, intro, who may read it, its colour and the categories its front page lists.", Who: admins,
		Status: 200, Resp: portal.HelpDesign{}, Errors: []int{401, 403}},
	{Method: "PUT", Path: "/kb/design", Tag: "Knowledge base", Summary: "Change how the public help looks (colour \"\": the portal's; categories []: every one); all or nothing.", Who: admins,
		Body: portal.HelpDesignInput{}, Status: 200, Resp: portal.HelpDesign{}, Errors: []int{400, 401, 403, 422}},
	{Method: "GET", Path: "/kb/categories", Tag: "Knowledge base", Summary: "The categories, in order.", Who: anyone, Status: 200, Resp: CategoryList{}, Errors: []int{}},
	{Method: "POST", Path: "/kb/categories", Tag: "Knowledge base", Summary: "Make a category.", Who: staff,
		Body: CategoryInput{}, Status: 201, Resp: portal.Category{}, Errors: []int{400, 401, 403, 422}},
	{Method: "GET", Path: "/canned-replies", Tag: "Canned replies", Summary: "The canned replies one may use (shared and one's own), the most used first.", Who: staff,
		Params: []apiParam{{"q", "string", "words in the title, folder or text", nil}, {"lang", "string", "only replies for every language and this one", []string{"en", "ru"}},
			{"ticket", "integer", "only replies for every language and the ticket's client's", nil}}, Status: 200, Resp: CannedList{}, Errors: []int{401, 403, 404}},
	{Method: "POST", Path: "/canned-replies", Tag: "Canned replies", Summary: "Make a canned reply: title, body, folder, lang (en, ru or empty: every language); shared (admins) or one's own.", Who: staff,
		Body: portal.CannedInput{}, Status: 201, Resp: portal.CannedReply{}, Errors: []int{400, 401, 403, 422}},
	{Method: "PATCH", Path: "/canned-replies/{id}", Tag: "Canned replies", Summary: "Change a canned reply (one's own; shared ones: admins).", Who: staff,
		Body: portal.CannedInput{}, Status: 200, Resp: portal.CannedReply{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "DELETE", Path: "/canned-replies/{id}", Tag: "Canned replies", Summary: "Delete a canned reply.", Who: staff, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "POST", Path: "/canned-replies/{id}/use", Tag: "Canned replies", Summary: "A canned reply's text filled for a ticket (?ticket=N); counts the use.", Who: staff,
		Params: []apiParam{{"ticket", "integer", "the ticket's number", nil}}, Status: 200, Resp: CannedText{}, Errors: []int{401, 403, 404}},
	{Method: "POST", Path: "/tickets/{n}/follow", Tag: "Views", Summary: "Follow a ticket: everything on it (notes too) comes by mail, and it is in the Following view.", Who: staff, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "DELETE", Path: "/tickets/{n}/follow", Tag: "Views", Summary: "Stop following a ticket.", Who: staff, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "POST", Path: "/tickets/{n}/unread", Tag: "Views", Summary: "Mark a ticket unread for oneself.", Who: staff, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "GET", Path: "/views", Tag: "Views", Summary: "The views one sees (built-in, shared, one's own) with how many tickets each holds now.", Who: staff, Status: 200, Resp: ViewList{}, Errors: []int{401, 403}},
	{Method: "POST", Path: "/views", Tag: "Views", Summary: "Save a view: a name and the table's filters (an object or a query string); shared (admins) or one's own.", Who: staff,
		Body: ViewJSON{}, Status: 201, Resp: portal.View{}, Errors: []int{400, 401, 403, 422}},
	{Method: "PATCH", Path: "/views/{id}", Tag: "Views", Summary: "Change a view.", Who: staff, Body: ViewJSON{}, Status: 200, Resp: portal.View{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "DELETE", Path: "/views/{id}", Tag: "Views", Summary: "Delete a view.", Who: staff, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "PUT", Path: "/views/hidden", Tag: "Views", Summary: "Hide a built-in view for oneself, or show it again.", Who: staff,
		Body: HideViewInput{}, Status: 200, Resp: ViewList{}, Errors: []int{400, 401, 403, 422}},
	{Method: "PUT", Path: "/views/order", Tag: "Views", Summary: "Put one's views in order: their keys (a built-in name or an id) first to last; the others follow.", Who: staff,
		Body: ViewOrderInput{}, Status: 200, Resp: ViewList{}, Errors: []int{400, 401, 403, 422}},
	{Method: "GET", Path: "/forms", Tag: "Questionnaire", Summary: "The portal's forms (front doors): the fields each asks, its preamble, group and priority.", Who: signedIn, Status: 200, Resp: FormList{}, Errors: []int{401}},
	{Method: "POST", Path: "/forms", Tag: "Questionnaire", Summary: "Make a form: name, slug, preamble, fields (the questionnaire's field ids), group, priority.", Who: admins,
		Body: portal.FormInput{}, Status: 201, Resp: portal.Form{}, Errors: []int{400, 401, 403, 422}},
	{Method: "PATCH", Path: "/forms/{id}", Tag: "Questionnaire", Summary: "Change a form, or retire it (active false).", Who: admins,
		Body: portal.FormInput{}, Status: 200, Resp: portal.Form{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "GET", Path: "/users", Tag: "People", Summary: "People: everyone for admins, clients for operators.", Who: staff,
		Params: []apiParam{{"role", "string", "", []string{"admin", "operator", "client"}}, {"external_id", "string", "the person an integration knows by this id", nil},
			{"organization", "integer", "an organisation's people", nil}, syncParams[0], syncParams[1]},
		Status: 200, Resp: UserList{}, Errors: []int{401, 403}},
	{Method: "POST", Path: "/users", Tag: "People", Summary: "Invite a client (staff) or an operator (admins): the password is mailed.", Who: staff,
		Body: portal.NewPerson{}, Status: 201, Resp: portal.User{}, Errors: []int{400, 401, 403, 409, 422}},
	{Method: "PATCH", Path: "/users/{id}", Tag: "People", Summary: "Change a person's name, address, role or activity (admins; a new address is their sign-in, the old one is told), or the record kept about them: organization, external_id, fields (operators too, of clients).", Who: staff,
		Body: portal.UserChange{}, Status: 200, Resp: portal.User{}, Errors: []int{400, 401, 403, 404, 409, 422}},
	{Method: "POST", Path: "/users/{id}/invite", Tag: "People", Summary: "Send an unused invitation again, with a new password.", Who: staff,
		Status: 200, Resp: portal.User{}, Errors: []int{401, 403, 404, 422}},
	{Method: "GET", Path: "/users/{id}/export", Tag: "People", Summary: "Everything the portal holds about a person, as a zip.", Who: admins,
		Status: 200, Resp: "zip", Errors: []int{401, 403, 404}},
	{Method: "POST", Path: "/users/{id}/erase", Tag: "People", Summary: "Erase a person: name, address and sign-in go; their tickets stay, by a deleted user.", Who: admins,
		Status: 204, Errors: []int{401, 403, 404, 422}},

	{Method: "GET", Path: "/organizations", Tag: "Organisations", Summary: "Clients' companies by name, 50 a page.", Who: staff,
		Params: []apiParam{{"find", "string", "a part of the name, an INN or a domain", nil}, {"external_id", "string", "the organisation an integration knows by this id", nil}, pageParam, syncParams[0], syncParams[1]},
		Status: 200, Resp: OrgList{}, Errors: []int{401, 403}},
	{Method: "POST", Path: "/organizations", Tag: "Organisations", Summary: "Add an organisation: name, tax_id (INN or VAT id), kpp, domains, notes, fields, external_id. Clients at its domains with no organisation join it (joined).", Who: staff,
		Body: portal.OrgInput{}, Status: 201, Resp: portal.Organization{}, Errors: []int{400, 401, 403, 422}},
	{Method: "GET", Path: "/organizations/{id}", Tag: "Organisations", Summary: "An organisation with its people (an ETag, as a ticket's).", Who: staff, Status: 200, Resp: OrgView{}, Errors: []int{401, 403, 404}},
	{Method: "PATCH", Path: "/organizations/{id}", Tag: "Organisations", Summary: "Change an organisation; fields not named stay.", Who: staff,
		Body: portal.OrgInput{}, Status: 200, Resp: portal.Organization{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "DELETE", Path: "/organizations/{id}", Tag: "Organisations", Summary: "Delete an organisation; its people stay, in none.", Who: staff, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "GET", Path: "/record-fields", Tag: "Organisations", Summary: "The fields kept about clients (target=client) or organisations (target=org).", Who: staff,
		Params: []apiParam{{"target", "string", "", []string{"client", "org"}}, {"all", "integer", "1: retired ones too (admins)", nil}},
		Status: 200, Resp: RecordFieldList{}, Errors: []int{401, 403, 422}},
	{Method: "POST", Path: "/record-fields", Tag: "Organisations", Summary: "Add a field kept about clients or organisations (target), typed like the questionnaire's.", Who: admins,
		Body: portal.RecordFieldInput{}, Status: 201, Resp: portal.RecordField{}, Errors: []int{400, 401, 403, 422}},
	{Method: "PATCH", Path: "/record-fields/{id}", Tag: "Organisations", Summary: "Change a field, or retire it (active false); its name stays.", Who: admins,
		Body: portal.RecordFieldInput{}, Status: 200, Resp: portal.RecordField{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "DELETE", Path: "/record-fields/{id}", Tag: "Organisations", Summary: "Delete a field; the values kept in it are no longer shown.", Who: admins, Status: 204, Errors: []int{401, 403, 404}},

	{Method: "GET", Path: "/channels", Tag: "Messengers", Summary: "The connected messengers (never their tokens): account, how updates arrive, the address they call, VK's secret key, people who wrote.", Who: admins,
		Status: 200, Resp: ChannelList{}, Errors: []int{401, 403}},
	{Method: "GET", Path: "/channels/outbox", Tag: "Messengers", Summary: "The latest 100 messages sent into chats, with their state.", Who: admins,
		Status: 200, Resp: ChatOutList{}, Errors: []int{401, 403}},
	{Method: "GET", Path: "/channels/{kind}", Tag: "Messengers", Summary: "One messenger: telegram or vk.", Who: admins,
		Status: 200, Resp: portal.Channel{}, Errors: []int{401, 403, 404}},
	{Method: "PUT", Path: "/channels/{kind}", Tag: "Messengers", Summary: "Connect a messenger: Telegram with the bot's token; VK with the community's access key, its id (group) and the confirmation string. The messenger checks them first.", Who: admins,
		Body: portal.ChannelInput{}, Status: 200, Resp: portal.Channel{}, Errors: []int{400, 401, 403, 422}},
	{Method: "DELETE", Path: "/channels/{kind}", Tag: "Messengers", Summary: "Disconnect a messenger; its people and tickets stay.", Who: admins, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "POST", Path: "/channels/telegram/hook", Tag: "Messengers", Summary: "Where Telegram posts the bot's updates (webhook mode), with the secret token the portal set.", Who: anyone,
		Body: map[string]any{}, Status: 200, Resp: struct{}{}, Errors: []int{400, 401}},
	{Method: "POST", Path: "/channels/vk/callback", Tag: "Messengers", Summary: "VK's Callback API: the confirmation string, or ok once an event signed with the secret key is kept.", Who: anyone,
		Body: map[string]any{}, Status: 200, Resp: "text", Errors: []int{400, 401}},

	{Method: "POST", Path: "/imports", Tag: "Imports and exports", Summary: "Import a table of clients or organisations (multipart: kind clients or organizations, file CSV or XLSX): kept and previewed with its columns' suggested fields; nothing is imported yet.", Who: admins,
		Body: "multipart", Status: 201, Resp: portal.ImportPreview{}, Errors: []int{400, 401, 403, 413, 422}},
	{Method: "GET", Path: "/imports/{id}", Tag: "Imports and exports", Summary: "An uploaded table: its columns, first ten rows, the fields they may fill and the suggested mapping.", Who: admins,
		Status: 200, Resp: portal.ImportPreview{}, Errors: []int{401, 403, 404}},
	{Method: "POST", Path: "/imports/{id}/start", Tag: "Imports and exports", Summary: "Start an import: mapping (each column's field, \"\" skips it), update_existing, invite (clients). Rows are applied in the background; refused ones are kept with why.", Who: admins,
		Body: portal.JobParams{}, Status: 202, Resp: portal.Job{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "POST", Path: "/exports", Tag: "Imports and exports", Summary: "Export tickets with their messages and notes: format csv or json, status, since (YYYY-MM-DD). Written in the background.", Who: admins,
		Body: portal.JobParams{}, Status: 202, Resp: portal.Job{}, Errors: []int{400, 401, 403, 422}},
	{Method: "GET", Path: "/jobs", Tag: "Imports and exports", Summary: "The latest 50 imports and exports with their progress.", Who: admins, Status: 200, Resp: JobList{}, Errors: []int{401, 403}},
	{Method: "GET", Path: "/jobs/{id}", Tag: "Imports and exports", Summary: "One import or export with its progress.", Who: admins, Status: 200, Resp: portal.Job{}, Errors: []int{401, 403, 404}},
	{Method: "GET", Path: "/jobs/{id}/file", Tag: "Imports and exports", Summary: "A finished export's file (CSV or JSON).", Who: admins, Status: 200, Resp: "file", Errors: []int{401, 403, 404}},
	{Method: "GET", Path: "/jobs/{id}/rejected", Tag: "Imports and exports", Summary: "An import's refused rows as CSV: the row's number, why, and the row.", Who: admins, Status: 200, Resp: "csv", Errors: []int{401, 403, 404}},

	{Method: "GET", Path: "/form", Tag: "Questionnaire", Summary: "The questionnaire clients fill in.", Who: signedIn, Status: 200, Resp: FormView{}, Errors: []int{401}},
	{Method: "PUT", Path: "/form", Tag: "Questionnaire", Summary: "Replace the questionnaire, whole or not at all.", Who: admins,
		Body: portal.FormEdit{}, Status: 200, Resp: FormView{}, Errors: []int{400, 401, 403, 422}},
	{Method: "GET", Path: "/statuses", Tag: "Workflow", Summary: "Ticket statuses in order.", Who: signedIn, Status: 200, Resp: StatusList{}, Errors: []int{401}},
	{Method: "POST", Path: "/statuses", Tag: "Workflow", Summary: "Add a status.", Who: admins, Body: portal.StatusInput{}, Status: 201, Resp: portal.Status{}, Errors: []int{400, 401, 403, 422}},
	{Method: "PATCH", Path: "/statuses/{id}", Tag: "Workflow", Summary: "Rename, recolour, reorder or retire a status.", Who: admins,
		Body: portal.StatusInput{}, Status: 200, Resp: portal.Status{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "GET", Path: "/workflow", Tag: "Workflow", Summary: "What taking, a client's reply and waiting do to a ticket's status.", Who: admins,
		Status: 200, Resp: portal.Workflow{}, Errors: []int{401, 403}},
	{Method: "PUT", Path: "/workflow", Tag: "Workflow", Summary: "Change the workflow (PATCH works alike).", Who: admins,
		Body: portal.Workflow{}, Status: 200, Resp: portal.Workflow{}, Errors: []int{400, 401, 403, 422}, Media: "PATCH"},
	{Method: "GET", Path: "/settings", Tag: "Settings", Summary: "The portal's settings.", Who: admins, Status: 200, Resp: portal.Settings{}, Errors: []int{401, 403}},
	{Method: "PUT", Path: "/settings", Tag: "Settings", Summary: "Change settings; absent keys stay (PATCH works alike).", Who: admins,
		Body: portal.Settings{}, Status: 200, Resp: portal.Settings{}, Errors: []int{400, 401, 403, 422}, Media: "PATCH"},
	{Method: "GET", Path: "/domain", Tag: "Settings", Summary: "The portal's own host name with its DNS record and state.", Who: admins,
		Status: 200, Resp: DomainState{}, Errors: []int{401, 403}},
	{Method: "PUT", Path: "/domain", Tag: "Settings", Summary: "Serve the portal at its own host name (tariffs that include it); checked at once.", Who: admins,
		Body: DomainInput{}, Status: 200, Resp: portal.Domain{}, Errors: []int{400, 401, 403, 422}},
	{Method: "DELETE", Path: "/domain", Tag: "Settings", Summary: "Stop serving the portal at its own host name.", Who: admins, Status: 204, Errors: []int{401, 403}},
	{Method: "POST", Path: "/domain/check", Tag: "Settings", Summary: "Check the host name's DNS now.", Who: admins, Status: 200, Resp: portal.Domain{}, Errors: []int{401, 403, 404}},

	{Method: "GET", Path: "/profile", Tag: "Profile", Summary: "One's own account and notification choices.", Who: signedIn, Status: 200, Resp: ProfileView{}, Errors: []int{401}},
	{Method: "PUT", Path: "/profile", Tag: "Profile", Summary: "Change one's name, language and notifications.", Who: signedIn,
		Body: portal.Profile{}, Status: 200, Resp: portal.User{}, Errors: []int{400, 401, 422}},
	{Method: "POST", Path: "/password", Tag: "Profile", Summary: "Change one's password; every other session and token ends.", Who: signedIn,
		Body: PasswordInput{}, Status: 204, Errors: []int{400, 401, 422, 429}},
	{Method: "GET", Path: "/tokens", Tag: "Profile", Summary: "One's personal API tokens (tariffs with API access).", Who: staff, Status: 200, Resp: TokenList{}, Errors: []int{401, 403}},
	{Method: "POST", Path: "/tokens", Tag: "Profile", Summary: "Create a personal token (scope: read, write — not the portal's set-up — or admin, the default; expires_in_days: 0 until revoked, at most 366); it is shown once. Its last use (to within minutes) and address are listed.", Who: staff,
		Body: TokenInput{}, Status: 201, Resp: NewToken{}, Errors: []int{400, 401, 403, 422}},
	{Method: "DELETE", Path: "/tokens/{id}", Tag: "Profile", Summary: "Revoke a personal token.", Who: staff, Status: 204, Errors: []int{401, 403, 404}},

	{Method: "GET", Path: "/outbox", Tag: "Mail", Summary: "The latest mail the portal sent or is sending.", Who: admins, Status: 200, Resp: MailList{}, Errors: []int{401, 403}},
	{Method: "POST", Path: "/outbox/retry", Tag: "Mail", Summary: "Queue failed mail again: one (id) or all.", Who: admins,
		Body: RetryInput{}, Status: 200, Resp: QueuedResult{}, Errors: []int{401, 403}},
	{Method: "GET", Path: "/mail/inbound", Tag: "Mail", Summary: "Mail in: the portal's address, whether new senders become clients, and the latest received mail with what each became.", Who: admins,
		Status: 200, Resp: portal.InboundSettings{}, Errors: []int{401, 403}},
	{Method: "PUT", Path: "/mail/inbound", Tag: "Mail", Summary: "Let mail from new addresses register clients (allow) or not (reject).", Who: admins,
		Body: InboundInput{}, Status: 200, Resp: portal.InboundSettings{}, Errors: []int{400, 401, 403, 422}},
	{Method: "POST", Path: "/mail/inbound/{id}/release", Tag: "Mail", Summary: "Let a mail held as spam through: it is applied as if it had just come.", Who: staff,
		Status: 204, Errors: []int{401, 403, 404}},
	{Method: "DELETE", Path: "/mail/inbound/{id}", Tag: "Mail", Summary: "Delete a mail held as spam.", Who: staff, Status: 204, Errors: []int{401, 403, 404}},
	{Method: "GET", Path: "/mail/smtp", Tag: "Mail", Summary: "The portal's own sender (tariffs that include it); the password is never shown.", Who: admins,
		Status: 200, Resp: portal.SMTPSettings{}, Errors: []int{401, 403}},
	{Method: "PUT", Path: "/mail/smtp", Tag: "Mail", Summary: "Set the portal's own sender.", Who: admins,
		Body: portal.SMTPSettings{}, Status: 200, Resp: portal.SMTPSettings{}, Errors: []int{400, 401, 403, 422}},
	{Method: "POST", Path: "/mail/test", Tag: "Mail", Summary: "Send a test mail through the portal's sender, with the server's answer.", Who: admins,
		Status: 200, Resp: TestMailResult{}, Errors: []int{401, 403, 502}},
	{Method: "GET", Path: "/mail/templates", Tag: "Mail", Summary: "Every mail template in every language.", Who: admins, Status: 200, Resp: TemplateList{}, Errors: []int{401, 403}},
	{Method: "PUT", Path: "/mail/templates/{kind}/{lang}", Tag: "Mail", Summary: "Reword a template.", Who: admins,
		Body: TemplateInput{}, Status: 200, Resp: portal.MailTemplate{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "DELETE", Path: "/mail/templates/{kind}/{lang}", Tag: "Mail", Summary: "Go back to the default wording.", Who: admins, Status: 204, Errors: []int{401, 403, 404}},

	{Method: "GET", Path: "/subscription", Tag: "Billing", Summary: "Tariff, operators, balance, storage measured now.", Who: admins, Status: 200, Resp: portal.Subscription{}, Errors: []int{401, 403}},
	{Method: "PATCH", Path: "/subscription", Tag: "Billing", Summary: "Change the tariff or operators; today's charge is taken at once.", Who: admins,
		Body: PlanInput{}, Status: 200, Resp: portal.Subscription{}, Errors: []int{400, 401, 402, 403, 422}},
	{Method: "GET", Path: "/subscription/quote", Tag: "Billing", Summary: "The price of a change before making it.", Who: admins,
		Params: []apiParam{{"tariff", "string", "a tariff id", nil}, {"operators", "integer", "", nil}}, Status: 200, Resp: portal.Quote{}, Errors: []int{401, 403, 422}},
	{Method: "POST", Path: "/subscription/topup", Tag: "Billing", Summary: "Issue an invoice; the balance grows when it is paid.", Who: admins,
		Body: TopUpInput{}, Status: 201, Resp: portal.Invoice{}, Errors: []int{400, 401, 403, 422}},
	{Method: "GET", Path: "/transactions", Tag: "Billing", Summary: "The ledger, newest first.", Who: admins, Status: 200, Resp: TransactionList{}, Errors: []int{401, 403}},
	{Method: "GET", Path: "/invoices", Tag: "Billing", Summary: "Invoices with their state, newest first.", Who: admins, Status: 200, Resp: InvoiceList{}, Errors: []int{401, 403}},
	{Method: "GET", Path: "/invoices/{number}", Tag: "Billing", Summary: "One invoice with the vendor's details.", Who: admins, Status: 200, Resp: portal.Invoice{}, Errors: []int{401, 403, 404}},
	{Method: "GET", Path: "/tariffs", Tag: "Billing", Summary: "The tariffs on offer.", Who: signedIn, Status: 200, Resp: TariffList{}, Errors: []int{401}},

	{Method: "GET", Path: "/work-types", Tag: "Labour", Summary: "The price list.", Who: staff, Status: 200, Resp: WorkTypeList{}, Errors: []int{401, 403}},
	{Method: "POST", Path: "/work-types", Tag: "Labour", Summary: "Add a work type.", Who: admins, Body: portal.WorkTypeInput{}, Status: 201, Resp: portal.WorkType{}, Errors: []int{400, 401, 403, 422}},
	{Method: "PATCH", Path: "/work-types/{id}", Tag: "Labour", Summary: "Change or retire a work type.", Who: admins,
		Body: portal.WorkTypeInput{}, Status: 200, Resp: portal.WorkType{}, Errors: []int{400, 401, 403, 404, 422}},
	{Method: "GET", Path: "/reports/labour", Tag: "Reports", Summary: "Labour by operator, client and work type over a period (format=csv: a spreadsheet, table=…).", Who: staff,
		Params: append(periodParam[:len(periodParam):len(periodParam)], apiParam{"operator", "integer", "", nil}, apiParam{"client", "integer", "", nil}, apiParam{"work_type", "integer", "", nil}),
		Status: 200, Resp: portal.LabourReport{}, Media: "csv", Errors: []int{401, 403, 422}},
	{Method: "GET", Path: "/stats", Tag: "Reports", Summary: "Statistics over a period: tickets, answer times, ratings, operators (format=csv: a spreadsheet).", Who: admins,
		Params: periodParam, Status: 200, Resp: portal.Stats{}, Media: "csv", Errors: []int{401, 403, 422}},
	{Method: "GET", Path: "/audit", Tag: "Reports", Summary: "The audit log, newest first (format=csv: a spreadsheet).", Who: admins,
		Params: []apiParam{{"action", "string", "", nil}, {"who", "string", "an actor's address", nil}, {"from", "string", "YYYY-MM-DD", nil}, {"to", "string", "YYYY-MM-DD", nil},
			{"before", "integer", "an entry id: the page after it", nil}, {"format", "string", "", []string{"json", "csv"}}},
		Status: 200, Resp: AuditList{}, Media: "csv", Errors: []int{401, 403, 422}},

	{Method: "GET", Path: "/openapi.json", Tag: "Reference", Summary: "This document.", Who: anyone, Status: 200, Resp: "openapi"},
}

// openAPIDoc is the document, built once.
var openAPIDoc = func() []byte {
	b, err := json.MarshalIndent(buildOpenAPI(apiOps), "", " ")
	if err != nil {
		panic(err)
	}
	return b
}()

func buildOpenAPI(ops []apiOp) map[string]any {
	sc := &schemas{defs: map[string]any{}, names: map[reflect.Type]string{}}
	paths := map[string]map[string]any{}
	for _, op := range ops {
		o := map[string]any{
			"summary":     op.Summary,
			"tags":        []string{op.Tag},
			"operationId": strings.ToLower(op.Method) + strings.NewReplacer("/", "_", "{", "", "}", "", "-", "_", ".", "_").Replace(op.Path),
			"description": "Who: " + op.Who + ".",
		}
		if op.Who == anyone {
			o["security"] = []any{}
		}
		var params []any
		for _, seg := range strings.Split(op.Path, "/") {
			if strings.HasPrefix(seg, "{") {
				name := strings.Trim(seg, "{}")
				typ := "integer"
				if name == "kind" || name == "lang" || name == "number" {
					typ = "string"
				}
				params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": typ}})
			}
		}
		for _, p := range op.Params {
			s := map[string]any{"type": p.Type}
			if p.Enum != nil {
				s["enum"] = p.Enum
			}
			q := map[string]any{"name": p.Name, "in": "query", "schema": s}
			if p.Doc != "" {
				q["description"] = p.Doc
			}
			params = append(params, q)
		}
		if params != nil {
			o["parameters"] = params
		}
		switch b := op.Body.(type) {
		case nil:
		case string: // multipart
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"multipart/form-data": map[string]any{"schema": map[string]any{
				"type": "object", "properties": map[string]any{"file": map[string]any{"type": "array", "items": map[string]any{"type": "string", "contentMediaType": "application/octet-stream"}},
					"message": map[string]any{"type": "integer"}}, "required": []string{"file"}}}}}
		default:
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": sc.input(reflect.TypeOf(b))}}}
		}
		resp := map[string]any{}
		ok := map[string]any{"description": http200(op.Status)}
		switch r := op.Resp.(type) {
		case nil:
		case string:
			media := map[string]string{"binary": "application/octet-stream", "zip": "application/zip", "csv": "text/csv", "text": "text/plain",
				"file": "application/octet-stream"}[r]
			if r == "openapi" {
				ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
			} else {
				ok["content"] = map[string]any{media: map[string]any{"schema": map[string]any{"type": "string", "contentMediaType": media}}}
			}
		default:
			content := map[string]any{"application/json": map[string]any{"schema": sc.output(reflect.TypeOf(r))}}
			if op.Media == "csv" {
				content["text/csv"] = map[string]any{"schema": map[string]any{"type": "string"}}
			}
			ok["content"] = content
		}
		resp[strconv.Itoa(op.Status)] = ok
		for _, code := range op.Errors {
			resp[strconv.Itoa(code)] = map[string]any{"$ref": "#/components/responses/E" + strconv.Itoa(code)}
		}
		o["responses"] = resp
		if paths[op.Path] == nil {
			paths[op.Path] = map[string]any{}
		}
		paths[op.Path][strings.ToLower(op.Method)] = o
		if op.Media == "PATCH" {
			paths[op.Path]["patch"] = o
		}
	}
	errSchema := sc.output(reflect.TypeOf(struct {
		Error web.Error `json:"error"`
	}{}))
	responses := map[string]any{}
	for code, what := range errorCodes {
		responses["E"+strconv.Itoa(code)] = map[string]any{"description": what, "content": map[string]any{"application/json": map[string]any{"schema": errSchema}}}
	}
	// What the portal sends to webhook endpoints (portal/webhooks.go).
	hooks := map[string]any{}
	hookDoc := "Sent as POST with headers X-Portaldesk-Event, X-Portaldesk-Delivery (the event's idempotency id, the same on every retry) and " +
		"X-Portaldesk-Signature: t=<unix>,v1=<hex HMAC-SHA256 of \"t.body\" with the endpoint's secret> (two v1 values for a day after the secret is rotated). Answer 2xx; anything else is tried again with back-off for a day."
	for _, e := range append(slices.Clone(portal.HookEvents), struct{ ID, Label string }{portal.HookPing, "A test event"}) {
		var data reflect.Type
		switch e.ID {
		case portal.HookClient:
			data = reflect.TypeOf(HookClientData{})
		case portal.HookPing:
			data = reflect.TypeOf(HookPingData{})
		default:
			data = reflect.TypeOf(portal.HookTicket{})
		}
		env := map[string]any{"type": "object", "required": []string{"id", "event", "version", "created_at", "portal", "data"}, "properties": map[string]any{
			"id": map[string]any{"type": "string"}, "event": map[string]any{"const": e.ID}, "version": map[string]any{"const": 1},
			"created_at": map[string]any{"type": "integer"}, "portal": map[string]any{"type": "string"}, "data": sc.output(data)}}
		hooks[e.ID] = map[string]any{"post": map[string]any{"summary": e.Label, "description": hookDoc, "operationId": "hook_" + strings.NewReplacer(".", "_").Replace(e.ID),
			"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": env}}},
			"responses":   map[string]any{"200": map[string]any{"description": "Taken."}}}}
	}
	return map[string]any{
		"webhooks": hooks,
		"openapi":  "3.1.0",
		"info": map[string]any{"title": "Portaldesk portal API", "version": "1",
			"description": "The JSON API of one portal, under /{slug}/api/v1 (or /api/v1 on the portal's own domain). Authenticate with Authorization: Bearer TOKEN, " +
				"from POST /login or a personal token made in the profile. Errors are {\"error\": {\"code\", \"message\", \"fields\"}}: fields names each input that is wrong. " +
				"A request answered with an error has changed nothing. Messages follow Accept-Language (en, ru)."},
		"servers":    []any{map[string]any{"url": "/{slug}/api/v1", "variables": map[string]any{"slug": map[string]any{"default": "acme", "description": "the portal's address"}}}},
		"security":   []any{map[string]any{"bearer": []any{}}},
		"paths":      paths,
		"components": map[string]any{"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}}, "schemas": sc.defs, "responses": responses},
	}
}

// errorCodes are the error answers, with what each means here.
var errorCodes = map[int]string{
	400: "The body is not valid JSON of this shape.",
	401: "No valid token (or a wrong password, or a one-time code needed: code_required).",
	402: "The balance does not cover the change: top up first.",
	403: "Not allowed for this role, or not in the tariff (not_in_tariff).",
	404: "No such thing here (or not yours).",
	409: "The tariff has no room for another operator (operator_limit), or the address is taken.",
	413: "A file is larger than the portal allows.",
	422: "Some input is wrong: fields says which and why.",
	429: "Too many attempts: wait as Retry-After says.",
	502: "The mail server refused: its own words are in message.",
	507: "The portal's storage quota is full: nothing was saved.",
}

func http200(code int) string {
	switch code {
	case 201:
		return "Created."
	case 202:
		return "Accepted."
	case 204:
		return "Done; no body."
	}
	return "OK."
}

// schemas turns Go types into JSON Schema (2020-12, as OpenAPI 3.1 has
// it) the way encoding/json writes them: json tags name the properties;
// a field without omitempty/omitzero is always present (required); a nil
// slice, map or pointer is written as null. Responses are closed (no
// property the document does not name); request bodies name no required
// property, as every handler starts from defaults.
type schemas struct {
	defs  map[string]any
	names map[reflect.Type]string
}

func (s *schemas) output(t reflect.Type) any { return s.of(t, false) }
func (s *schemas) input(t reflect.Type) any  { return s.of(t, true) }

var timeType = reflect.TypeOf(time.Time{})

func (s *schemas) of(t reflect.Type, in bool) any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		return nullable(s.of(t.Elem(), in))
	case t.Kind() == reflect.Interface:
		return map[string]any{}
	case t.Kind() == reflect.Bool:
		return map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return map[string]any{"type": "integer"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return map[string]any{"type": "number"}
	case t.Kind() == reflect.String:
		return map[string]any{"type": "string"}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return map[string]any{"type": []string{"array", "null"}, "items": s.of(t.Elem(), in)}
	case t.Kind() == reflect.Map:
		return map[string]any{"type": []string{"object", "null"}, "additionalProperties": s.of(t.Elem(), in)}
	case t.Kind() == reflect.Struct:
		if t.Name() == "" {
			return s.object(t, in)
		}
		name := s.name(t, in)
		if _, done := s.defs[name]; !done {
			s.defs[name] = map[string]any{} // a placeholder while its fields refer back
			s.defs[name] = s.object(t, in)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// name is the schema's name: the type's, capitalised, with "Input" for a
// request body's own variant; a second type of the same name takes its
// package's too.
func (s *schemas) name(t reflect.Type, in bool) string {
	key := t
	if in {
		key = reflect.PointerTo(t) // the input variant's own key
	}
	if n, ok := s.names[key]; ok {
		return n
	}
	r := []rune(t.Name())
	r[0] = unicode.ToUpper(r[0])
	n := string(r)
	if in && !strings.HasSuffix(n, "Input") {
		n += "Input"
	}
	for _, taken := range s.names {
		if taken == n {
			pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
			n = strings.ToUpper(pkg[:1]) + pkg[1:] + n
			break
		}
	}
	s.names[key] = n
	return n
}

func (s *schemas) object(t reflect.Type, in bool) map[string]any {
	props := map[string]any{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" || !f.IsExported() && !f.Anonymous {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				et := f.Type
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				walk(et)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name) // encoding/json matches names in any case
			}
			props[name] = s.of(f.Type, in)
			if !in && !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
				required = append(required, name)
			}
		}
	}
	walk(t)
	o := map[string]any{"type": "object", "properties": props}
	if !in {
		o["additionalProperties"] = false
	}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func nullable(s any) any {
	m, ok := s.(map[string]any)
	if !ok {
		return s
	}
	if _, ref := m["$ref"]; ref {
		return map[string]any{"anyOf": []any{m, map[string]any{"type": "null"}}}
	}
	switch t := m["type"].(type) {
	case string:
		c := map[string]any{}
		for k, v := range m {
			c[k] = v
		}
		c["type"] = []string{t, "null"}
		return c
	}
	return m // already nullable, or any
}
