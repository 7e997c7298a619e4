package handlers

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/tabular"
	"portaldesk/portal/web"
	"portaldesk/templates"
)

func (s *Server) insightRoutes(m, api *mux.Router) {
	m.Handle("/admin/work-types", s.user(s.workTypesPage, portal.RoleAdmin)).Methods("GET")
	m.Handle("/admin/work-types", s.user(s.workTypeSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/admin/work-types/{id:[0-9]+}", s.user(s.workTypeSubmit, portal.RoleAdmin)).Methods("POST")
	m.Handle("/tickets/{n:[0-9]+}/work", s.user(s.workSubmit, portal.RoleAdmin, portal.RoleOperator)).Methods("POST")
	m.Handle("/tickets/{n:[0-9]+}/rating", s.user(s.ratingSubmit, portal.RoleClient)).Methods("POST")
	m.Handle("/reports/labour", s.user(s.labourPage, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	m.Handle("/stats", s.user(s.statsPage, portal.RoleAdmin)).Methods("GET")
	api.Handle("/work-types", s.user(s.apiWorkTypes, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	api.Handle("/work-types", s.user(s.apiSaveWorkType, portal.RoleAdmin)).Methods("POST")
	api.Handle("/work-types/{id:[0-9]+}", s.user(s.apiSaveWorkType, portal.RoleAdmin)).Methods("PATCH")
	api.Handle("/tickets/{n:[0-9]+}/work", s.user(s.apiWork)).Methods("GET")
	api.Handle("/tickets/{n:[0-9]+}/work", s.user(s.apiLogWork)).Methods("POST")
	api.Handle("/tickets/{n:[0-9]+}/rating", s.user(s.apiRating)).Methods("GET")
	api.Handle("/tickets/{n:[0-9]+}/rating", s.user(s.apiRate)).Methods("POST")
	api.Handle("/reports/labour", s.user(s.apiLabour, portal.RoleAdmin, portal.RoleOperator)).Methods("GET")
	api.Handle("/stats", s.user(s.apiStats, portal.RoleAdmin)).Methods("GET")
}

// WorkTypesData is the price list page.
type WorkTypesData struct {
	Types  []portal.WorkType
	Timing bool
	Money  func(int64) string
	EditID int64
}

func (s *Server) money() func(int64) string {
	if s.cfg.Billing != nil {
		return s.cfg.Billing.Money
	}
	return func(v int64) string { return fmt.Sprintf("%d.%02d", v/100, v%100) }
}

func (s *Server) renderWorkTypes(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	types, err := rq.P.WorkTypes(r.Context(), true)
	if err != nil {
		return err
	}
	return s.renderPage(w, r, rq, status, "admin_work_types", "Price list", "work", &WorkTypesData{Types: types, Timing: rq.P.Plan().Timing, Money: s.money()}, fix)
}

func (s *Server) workTypesPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderWorkTypes(w, r, rq, http.StatusOK, nil)
}

func (s *Server) workTypeSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	in := portal.WorkTypeInput{Name: r.PostForm.Get("name"), Unit: r.PostForm.Get("unit")}
	price, ok := parseMoney(r.PostForm.Get("price"))
	if v := r.PostForm.Get("active"); v != "" {
		b := v == "1"
		in.Active = &b
	}
	var err error
	if !ok {
		err = &portal.FieldErrors{Fields: map[string]string{"price": "Enter a price, like 1500 or 1500.50."}}
	} else {
		in.Price = price
		_, err = rq.P.SaveWorkType(r.Context(), rq.User, pathID(r), in)
	}
	if err != nil {
		we, isWeb := webError(err).(*web.Error)
		if !isWeb || we.Status == http.StatusNotFound {
			return err
		}
		return s.renderWorkTypes(w, r, rq, we.Status, func(pg *templates.Page) {
			pg.Form, pg.Errors, pg.Error = r.PostForm, we.Fields, we.Message
			pg.Data.(*WorkTypesData).EditID = pathID(r)
		})
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/work-types", "The price list is saved."))
}

func (s *Server) workSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	n := number(r)
	in := portal.NewWork{WorkType: r.PostForm.Get("work_type"), Quantity: r.PostForm.Get("quantity"), Date: r.PostForm.Get("date"),
		Comment: r.PostForm.Get("comment"), Visible: r.PostForm.Get("visible") != ""}
	if _, err := rq.P.LogWork(r.Context(), rq.User, n, in); err != nil {
		return s.ticketFail(w, r, rq, n, err)
	}
	return redirect(w, r, flashURL(rq, fmt.Sprintf("%s/tickets/%d", rq.Base, n), "The work is logged.")+"#work")
}

func (s *Server) ratingSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	n := number(r)
	score, _ := strconv.Atoi(r.PostForm.Get("score"))
	if _, err := rq.P.Rate(r.Context(), rq.User, n, score, r.PostForm.Get("comment")); err != nil {
		return s.ticketFail(w, r, rq, n, err)
	}
	return redirect(w, r, flashURL(rq, fmt.Sprintf("%s/tickets/%d", rq.Base, n), "Thank you for your rating!")+"#rating")
}

func labourFilterOf(r *http.Request, rq *Request) (portal.LabourFilter, map[string]string) {
	q := r.URL.Query()
	pr, errs := portal.ParsePeriod(q.Get("from"), q.Get("to"), q.Get("by"), rq.P.Now())
	f := portal.LabourFilter{Period: pr}
	f.Operator, _ = strconv.ParseInt(q.Get("operator"), 10, 64)
	f.Client, _ = strconv.ParseInt(q.Get("client"), 10, 64)
	f.WorkType, _ = strconv.ParseInt(q.Get("work_type"), 10, 64)
	return f, errs
}

// writeCSV answers with a CSV file. In Russian it is the one Excel opens
// cleanly with a Russian locale: a byte-order mark (else it guesses the
// encoding wrong), ";" between cells and a decimal comma.
func writeCSV(w http.ResponseWriter, name, lang string, rows [][]string) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	cw := csv.NewWriter(w)
	ru := lang == "ru"
	if ru {
		if _, err := io.WriteString(w, "\ufeff"); err != nil {
			return err
		}
		cw.Comma = ';'
	}
	for _, row := range rows {
		for i, cell := range row {
			if ru && tabular.PlainNumber(cell) {
				cell = strings.Replace(cell, ".", ",", 1)
			}
			row[i] = tabular.SafeCell(cell)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func minor(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// excelLang is the language a CSV is laid out for: the page's language for
// a download from a page (Russian: laid out for Excel, see writeCSV), none
// for the API, which always gets plain RFC 4180.
func (s *Server) excelLang(r *http.Request, rq *Request) string {
	if web.IsAPI(r) {
		return ""
	}
	return s.lang(r, rq)
}

func labourCSV(w http.ResponseWriter, rep *portal.LabourReport, table, lang string) error {
	groups := map[string][]portal.LabourRow{"operators": rep.ByOperator, "clients": rep.ByClient, "work_types": rep.ByWorkType, "periods": rep.ByPeriod}
	if rows, ok := groups[table]; ok {
		out := [][]string{{table, "entries", "quantity", "cost"}}
		for _, r := range rows {
			out = append(out, []string{r.Key, strconv.Itoa(r.Entries), r.Quantity, minor(r.Cost)})
		}
		return writeCSV(w, "labour-"+table, lang, out)
	}
	out := [][]string{{"date", "ticket", "operator", "client", "work_type", "quantity", "unit", "price", "cost", "visible", "comment"}}
	for _, e := range rep.Entries {
		out = append(out, []string{e.Date, strconv.FormatInt(e.Ticket, 10), e.Operator.Name, e.Client.Name, e.WorkType, e.Quantity, e.Unit, minor(e.Price), minor(e.Cost), strconv.FormatBool(e.Visible), e.Comment})
	}
	return writeCSV(w, "labour-entries", lang, out)
}

// LabourData is the labour report page.
type LabourData struct {
	Rep     *portal.LabourReport
	Query   url.Values
	Staff   []*portal.User
	Types   []portal.WorkType
	Money   func(int64) string
	CSVBase string
}

// labourOf reads the labour report a request asks for, for the page and
// the API alike; a request for CSV is answered here (done).
func (s *Server) labourOf(w http.ResponseWriter, r *http.Request, rq *Request) (rep *portal.LabourReport, done bool, err error) {
	f, errs := labourFilterOf(r, rq)
	if len(errs) > 0 {
		return nil, false, &portal.FieldErrors{Fields: errs}
	}
	if rep, err = rq.P.Labour(r.Context(), rq.User, f); err != nil {
		return nil, false, err
	}
	if r.URL.Query().Get("format") == "csv" {
		return rep, true, labourCSV(w, rep, r.URL.Query().Get("table"), s.excelLang(r, rq))
	}
	return rep, false, nil
}

func (s *Server) labourPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	rep, done, err := s.labourOf(w, r, rq)
	if err != nil || done {
		return err
	}
	d := &LabourData{Rep: rep, Query: r.URL.Query(), Money: s.money()}
	if d.Staff, err = rq.P.Staff(r.Context()); err != nil {
		return err
	}
	if d.Types, err = rq.P.WorkTypes(r.Context(), true); err != nil {
		return err
	}
	q := r.URL.Query()
	q.Set("format", "csv")
	d.CSVBase = rq.Base + "/reports/labour?" + q.Encode()
	pg := s.page(r, rq, "Labour costs", d)
	pg.Nav = "labour"
	return s.tpl.Render(w, http.StatusOK, "report_labour", pg)
}

// StatsData is the statistics page.
type StatsData struct {
	S       *portal.Stats
	Chart   template.HTML
	Query   url.Values
	CSVBase string
}

func statsCSV(w http.ResponseWriter, st *portal.Stats, table, lang string) error {
	var out [][]string
	switch table {
	case "operators":
		out = [][]string{{"operator", "taken", "resolved", "median_first_response_h", "median_resolution_h", "ratings", "average_rating"}}
		for _, o := range st.Operators {
			out = append(out, []string{o.Name, strconv.Itoa(o.Taken), strconv.Itoa(o.Resolved), hours(o.MedianFirstReplyS), hours(o.MedianResolutionS), strconv.Itoa(o.Ratings), fmt.Sprintf("%.2f", o.AverageRating)})
		}
	case "statuses":
		out = [][]string{{"status", "closed", "tickets"}}
		for _, c := range st.Statuses {
			out = append(out, []string{c.Name, strconv.FormatBool(c.Closed), strconv.Itoa(c.Count)})
		}
	case "sla":
		out = [][]string{{"by", "name", "tickets", "breached", "met_percent"}}
		for _, c := range st.SLA {
			out = append(out, []string{c.By, c.Name, strconv.Itoa(c.Tickets), strconv.Itoa(c.Breached), fmt.Sprintf("%.1f", c.Met)})
		}
	case "backlog":
		out = [][]string{{"age", "open_tickets"}}
		for _, b := range st.Backlog {
			out = append(out, []string{b.Label, strconv.Itoa(b.Count)})
		}
	default:
		out = [][]string{{st.By, "created", "resolved", "open"}}
		for _, p := range st.Dynamics {
			out = append(out, []string{p.Start, strconv.Itoa(p.Created), strconv.Itoa(p.Resolved), strconv.Itoa(p.Open)})
		}
		table = "dynamics"
	}
	return writeCSV(w, "stats-"+table, lang, out)
}

func hours(sec int64) string { return fmt.Sprintf("%.1f", float64(sec)/3600) }

// statsOf reads the statistics a request asks for, for the page and the
// API alike; a request for CSV is answered here (done).
func (s *Server) statsOf(w http.ResponseWriter, r *http.Request, rq *Request) (st *portal.Stats, done bool, err error) {
	q := r.URL.Query()
	pr, errs := portal.ParsePeriod(q.Get("from"), q.Get("to"), q.Get("by"), rq.P.Now())
	if len(errs) > 0 {
		return nil, false, &portal.FieldErrors{Fields: errs}
	}
	if st, err = rq.P.Statistics(r.Context(), rq.User, pr); err != nil {
		return nil, false, err
	}
	if q.Get("format") == "csv" {
		return st, true, statsCSV(w, st, q.Get("table"), s.excelLang(r, rq))
	}
	return st, false, nil
}

func (s *Server) statsPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	st, done, err := s.statsOf(w, r, rq)
	if err != nil || done {
		return err
	}
	q := r.URL.Query()
	q2 := url.Values{}
	for k, v := range q {
		q2[k] = v
	}
	q2.Set("format", "csv")
	d := &StatsData{S: st, Chart: chartSVG(st.Dynamics, s.lang(r, rq)), Query: q, CSVBase: rq.Base + "/stats?" + q2.Encode()}
	pg := s.page(r, rq, "Statistics", d)
	pg.Nav = "stats"
	return s.tpl.Render(w, http.StatusOK, "stats", pg)
}

// chartSVG draws the dynamics as lines — created, resolved, open — in an
// inline SVG, so the page needs no chart library.
func chartSVG(pts []portal.Point, lang string) template.HTML {
	const w, h, pad = 720.0, 220.0, 28.0
	maxV := 1
	for _, p := range pts {
		maxV = max(maxV, p.Created, p.Resolved, p.Open)
	}
	x := func(i int) float64 {
		if len(pts) <= 1 {
			return pad
		}
		return pad + float64(i)*(w-2*pad)/float64(len(pts)-1)
	}
	y := func(v int) float64 { return h - pad - float64(v)*(h-2*pad)/float64(maxV) }
	// num is a coordinate: digits and a point need no escaping.
	num := func(v float64) template.HTML { return template.HTML(strconv.FormatFloat(v, 'f', 1, 64)) }
	out := templates.NewWriter(lang, 4096)
	line := func(get func(portal.Point) int, color, label template.HTML) {
		out.Raw(`<path d="`)
		for i, p := range pts {
			if i == 0 {
				out.Raw("M")
			} else {
				out.Raw(" L")
			}
			out.Raw(num(x(i)), " ", num(y(get(p))))
		}
		out.Raw(`" fill="none" stroke="`, color, `" stroke-width="2"><title>`)
		out.T(string(label))
		out.Raw(`</title></path>`)
	}
	out.Raw(`<svg class="chart" viewBox="0 0 `, num(w), ` `, num(h), `" role="img" aria-label="`)
	out.T("Tickets created, resolved and open")
	out.Raw(`" xmlns="http://www.w3.org/2000/svg">`)
	out.Raw(`<line x1="`, num(pad), `" y1="`, num(h-pad), `" x2="`, num(w-pad), `" y2="`, num(h-pad), `" stroke="#c9cfdc"/>`)
	out.Raw(`<text x="4" y="`, num(pad), `" font-size="11" fill="#5d6678">`, digits(int64(maxV)), `</text><text x="4" y="`, num(h-pad), `" font-size="11" fill="#5d6678">0</text>`)
	if len(pts) > 0 {
		out.Raw(`<text x="`, num(pad), `" y="`, num(h-8), `" font-size="11" fill="#5d6678">`)
		out.Esc(pts[0].Start)
		out.Raw(`</text><text x="`, num(w-pad), `" y="`, num(h-8), `" font-size="11" fill="#5d6678" text-anchor="end">`)
		out.Esc(pts[len(pts)-1].Start)
		out.Raw(`</text>`)
	}
	line(func(p portal.Point) int { return p.Open }, "#d97706", "open")
	line(func(p portal.Point) int { return p.Created }, "#2563eb", "created")
	line(func(p portal.Point) int { return p.Resolved }, "#16a34a", "resolved")
	out.Raw(`</svg>`)
	return template.HTML(out.String())
}

func (s *Server) apiWorkTypes(w http.ResponseWriter, r *http.Request, rq *Request) error {
	types, err := rq.P.WorkTypes(r.Context(), rq.User.Role == portal.RoleAdmin)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, WorkTypeList{nonNil(types)})
	return nil
}

func (s *Server) apiSaveWorkType(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in portal.WorkTypeInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	wt, err := rq.P.SaveWorkType(r.Context(), rq.User, pathID(r), in)
	if err != nil {
		return err
	}
	code := http.StatusOK
	if pathID(r) == 0 {
		code = http.StatusCreated
	}
	web.WriteJSON(w, code, wt)
	return nil
}

func (s *Server) apiWork(w http.ResponseWriter, r *http.Request, rq *Request) error {
	tw, err := rq.P.WorkOn(r.Context(), rq.User, number(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, tw)
	return nil
}

func (s *Server) apiLogWork(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in WorkInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	e, err := rq.P.LogWork(r.Context(), rq.User, number(r), portal.NewWork{WorkType: portal.AnswerString(in.WorkType), Quantity: portal.AnswerString(in.Quantity), Date: in.Date, Comment: in.Comment, Visible: in.Visible})
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, e)
	return nil
}

func (s *Server) apiRating(w http.ResponseWriter, r *http.Request, rq *Request) error {
	rt, err := rq.P.TicketRating(r.Context(), rq.User, number(r))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, RatingView{rt})
	return nil
}

func (s *Server) apiRate(w http.ResponseWriter, r *http.Request, rq *Request) error {
	var in RatingInput
	if err := web.DecodeJSON(r, &in); err != nil {
		return err
	}
	rt, err := rq.P.Rate(r.Context(), rq.User, number(r), in.Score, in.Comment)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, rt)
	return nil
}

func (s *Server) apiLabour(w http.ResponseWriter, r *http.Request, rq *Request) error {
	rep, done, err := s.labourOf(w, r, rq)
	if err != nil || done {
		return err
	}
	web.WriteJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) apiStats(w http.ResponseWriter, r *http.Request, rq *Request) error {
	st, done, err := s.statsOf(w, r, rq)
	if err != nil || done {
		return err
	}
	web.WriteJSON(w, http.StatusOK, st)
	return nil
}
