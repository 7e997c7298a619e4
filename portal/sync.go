package portal

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// An integration keeps a copy of the portal's tickets, people and
// organisations in step by reading a list from the moment it last synced
// (updated_since) in the order things changed, a page at a time: each page
// ends with a cursor naming its last row (its change time and id), from
// which the next page goes on. A row changed meanwhile moves towards the
// end: it is read again later in the same read, or — changed within the
// second the read has reached — by the next read, which starts from the
// largest updated_at seen (at or after: that second is read again). No
// change is skipped.

// SyncPage is the rows a page of an incremental read holds.
const SyncPage = 100

// Sync is a list's incremental read: Since (unix seconds or RFC 3339) and
// Cursor as the caller gave them; both empty is no incremental read.
type Sync struct {
	Since  string
	Cursor string
}

// On says whether the list is read incrementally.
func (s Sync) On() bool { return s.Since != "" || s.Cursor != "" }

// where is the condition on a table's change time and id columns (named
// updated and id, like "t.updated_at", "t.id"), with its arguments; errs
// names the parameter that is wrong.
func (s Sync) where(updated, id string) (string, []any, map[string]string) {
	var conds []string
	var args []any
	if s.Since != "" {
		since, ok := parseSince(s.Since)
		if !ok {
			return "", nil, map[string]string{"updated_since": "Give a moment as unix seconds or like 2026-12-01T10:15:00Z."}
		}
		conds, args = append(conds, updated+" >= ?"), append(args, since)
	}
	if s.Cursor != "" {
		u, i, ok := decodeCursor(s.Cursor)
		if !ok {
			return "", nil, map[string]string{"cursor": "This cursor is not one a page gave."}
		}
		conds, args = append(conds, "("+updated+", "+id+") > (?, ?)"), append(args, u, i)
	}
	return strings.Join(conds, " AND "), args, nil
}

func parseSince(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return n, true
	}
	t, err := time.Parse(time.RFC3339, s)
	return t.Unix(), err == nil
}

// Cursor names a row of an incremental read: its change time and id.
func Cursor(updated, id int64) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%d", updated, id))
}

func decodeCursor(s string) (int64, int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, 0, false
	}
	a, c, ok := strings.Cut(string(b), ".")
	u, err1 := strconv.ParseInt(a, 10, 64)
	i, err2 := strconv.ParseInt(c, 10, 64)
	return u, i, ok && err1 == nil && err2 == nil
}
