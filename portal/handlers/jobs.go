package handlers

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"

	"portaldesk/portal"
	"portaldesk/portal/web"
	"portaldesk/templates"
)

// Imports and exports (portal/jobs.go): the admin's page and the API.
func (s *Server) jobRoutes(m, api *mux.Router) {
	admin := portal.RoleAdmin
	m.Handle("/admin/data", s.user(s.dataPage, admin)).Methods("GET")
	m.Handle("/admin/data/import", s.user(s.importSubmit, admin)).Methods("POST")
	m.Handle("/admin/data/import/{id:[0-9]+}", s.user(s.importStartSubmit, admin)).Methods("POST")
	m.Handle("/admin/data/export", s.user(s.exportSubmit, admin)).Methods("POST")
	m.Handle("/admin/data/jobs/{id:[0-9]+}/file", s.user(s.jobFile, admin)).Methods("GET")
	m.Handle("/admin/data/jobs/{id:[0-9]+}/rejected", s.user(s.jobRejected, admin)).Methods("GET")
	api.Handle("/imports", s.user(s.apiStartImport, admin)).Methods("POST")
	api.Handle("/imports/{id:[0-9]+}", s.user(apiByID((*portal.Portal).ImportPreview), admin)).Methods("GET")
	api.Handle("/imports/{id:[0-9]+}/start", s.user(apiAccept((*portal.Portal).RunImport), admin)).Methods("POST")
	api.Handle("/exports", s.user(apiAccept(startExport), admin)).Methods("POST")
	api.Handle("/jobs", s.user(s.apiJobs, admin)).Methods("GET")
	api.Handle("/jobs/{id:[0-9]+}", s.user(apiByID((*portal.Portal).Job), admin)).Methods("GET")
	api.Handle("/jobs/{id:[0-9]+}/file", s.user(s.jobFile, admin)).Methods("GET")
	api.Handle("/jobs/{id:[0-9]+}/rejected", s.user(s.jobRejected, admin)).Methods("GET")
}

func startExport(p *portal.Portal, ctx context.Context, u *portal.User, _ int64, in portal.JobParams) (*portal.Job, error) {
	return p.StartExport(ctx, u, in)
}

// JobList is the portal's latest jobs.
type JobList struct {
	Jobs []*portal.Job `json:"jobs"`
}

// uploadedTable reads the table of an import form or request (field file).
func uploadedTable(w http.ResponseWriter, r *http.Request, rq *Request) (*portal.ImportPreview, error) {
	r.Body = http.MaxBytesReader(w, r.Body, portal.MaxImportBytes+64<<10)
	f, hdr, err := r.FormFile("file")
	if err != nil {
		return nil, &portal.FieldErrors{Fields: map[string]string{"file": "Choose a CSV or XLSX file."}}
	}
	defer f.Close()
	return rq.P.StartImport(r.Context(), rq.User, r.FormValue("kind"), hdr.Filename, f)
}

func (s *Server) apiStartImport(w http.ResponseWriter, r *http.Request, rq *Request) error {
	pv, err := uploadedTable(w, r, rq)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, pv)
	return nil
}

func (s *Server) apiJobs(w http.ResponseWriter, r *http.Request, rq *Request) error {
	list, err := rq.P.Jobs(r.Context(), rq.User)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, JobList{Jobs: list})
	return nil
}

// jobFile downloads a finished export.
func (s *Server) jobFile(w http.ResponseWriter, r *http.Request, rq *Request) error {
	j, f, err := rq.P.JobFile(r.Context(), rq.User, pathID(r))
	if err != nil {
		return err
	}
	defer f.Close()
	ctype := "text/csv; charset=utf-8"
	if j.Params.Format == "json" {
		ctype = "application/json"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": j.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	_, err = io.Copy(w, f)
	return err
}

// jobRejected downloads the rows an import refused, with why.
func (s *Server) jobRejected(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if _, err := rq.P.Job(r.Context(), rq.User, pathID(r)); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="rejected-%d.csv"`, pathID(r)))
	return rq.P.WriteRejected(r.Context(), rq.User, pathID(r), w)
}

// DataData is the admin's import and export page.
type DataData struct {
	Jobs     []*portal.Job
	Preview  *portal.ImportPreview // an uploaded table awaiting its columns
	Statuses []portal.Status
}

// Mapped is the target column i goes to in the preview.
func (d *DataData) Mapped(i int) string {
	if d.Preview == nil || i >= len(d.Preview.Mapping) {
		return ""
	}
	return d.Preview.Mapping[i]
}

func (s *Server) renderData(w http.ResponseWriter, r *http.Request, rq *Request, status int, fix func(*templates.Page)) error {
	ctx := r.Context()
	d := &DataData{}
	var err error
	if d.Jobs, err = rq.P.Jobs(ctx, rq.User); err != nil {
		return err
	}
	if d.Statuses, err = rq.P.Statuses(ctx); err != nil {
		return err
	}
	if id, _ := strconv.ParseInt(r.URL.Query().Get("import"), 10, 64); id != 0 {
		if pv, err := rq.P.ImportPreview(ctx, rq.User, id); err == nil && pv.Job.State == "preview" {
			d.Preview = pv
		}
	}
	return s.renderPage(w, r, rq, status, "admin_data", "Import and export", "data", d, fix)
}

func (s *Server) dataPage(w http.ResponseWriter, r *http.Request, rq *Request) error {
	return s.renderData(w, r, rq, http.StatusOK, nil)
}

func (s *Server) importSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	pv, err := uploadedTable(w, r, rq)
	if err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderData(w, r, rq, st, fix) }, nil)
	}
	return redirect(w, r, fmt.Sprintf("%s/admin/data?import=%d#preview", rq.Base, pv.Job.ID))
}

func (s *Server) importStartSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	id := pathID(r)
	pv, err := rq.P.ImportPreview(r.Context(), rq.User, id)
	if err != nil {
		return err
	}
	in := portal.JobParams{UpdateExisting: r.PostForm.Get("update_existing") != "", Invite: r.PostForm.Get("invite") != ""}
	for i := range pv.Columns {
		in.Mapping = append(in.Mapping, r.PostForm.Get("col"+strconv.Itoa(i)))
	}
	if _, err := rq.P.RunImport(r.Context(), rq.User, id, in); err != nil {
		r.URL.RawQuery = url.Values{"import": {strconv.FormatInt(id, 10)}}.Encode()
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderData(w, r, rq, st, fix) },
			func(pg *templates.Page) {
				if d := pg.Data.(*DataData); d.Preview != nil {
					d.Preview.Mapping = in.Mapping // the columns as they were chosen
				}
			})
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/data", "The import has started: its progress shows below."))
}

func (s *Server) exportSubmit(w http.ResponseWriter, r *http.Request, rq *Request) error {
	if err := r.ParseForm(); err != nil {
		return web.BadRequest("Bad form.")
	}
	f := r.PostForm
	if _, err := rq.P.StartExport(r.Context(), rq.User, portal.JobParams{Format: f.Get("format"), Status: f.Get("status"), Since: f.Get("since")}); err != nil {
		return formFailOn(err, r, func(st int, fix func(*templates.Page)) error { return s.renderData(w, r, rq, st, fix) }, nil)
	}
	return redirect(w, r, flashURL(rq, rq.Base+"/admin/data", "The export has started: its file shows below when it is ready."))
}
