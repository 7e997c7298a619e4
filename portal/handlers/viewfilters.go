package handlers

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// ViewFilters are a view's filters as the API takes them: an object of
// the table's query parameters ({"status": "open", "unread": true}), or
// the query string itself.
type ViewFilters url.Values

// UnmarshalJSON reads either form.
func (f *ViewFilters) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		q, err := url.ParseQuery(strings.TrimPrefix(s, "?"))
		*f = ViewFilters(q)
		return err
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("filters: an object or a query string")
	}
	q := url.Values{}
	for k, v := range obj {
		switch x := v.(type) {
		case bool:
			if x {
				q.Set(k, "1")
			}
		default:
			q.Set(k, fmt.Sprint(x))
		}
	}
	*f = ViewFilters(q)
	return nil
}
