package handlers

import (
	"net/http"
	"time"
)

func timeOf(unix int64) time.Time { return time.Unix(unix, 0) }

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request, rq *Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDoc)
	return nil
}
