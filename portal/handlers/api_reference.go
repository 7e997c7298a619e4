package handlers

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// The API reference page: the OpenAPI document (openapi_spec.go) as a
// person reads it, served by the portal itself — no CDN, no script.

// RefData is the reference page.
type RefData struct {
	Groups  []RefGroup
	Schemas []RefSchema
	Errors  []RefError
	Base    string // the API's address, e.g. http://host/acme/api/v1
}

// RefGroup is the operations under one tag.
type RefGroup struct {
	Tag string
	Ops []RefOp
}

// RefOp is one operation.
type RefOp struct {
	ID, Method, Path, Summary, Who string
	Params                         []RefField
	Body                           string // the request body's type, or ""
	BodyFields                     []RefField
	Status                         int
	Resp                           string // the response's type, or ""
	Errors                         []int
}

// RefField is a parameter or a property.
type RefField struct {
	Name, Type, Doc string
	Required        bool
}

// RefSchema is a named schema with its properties.
type RefSchema struct {
	Name   string
	Fields []RefField
}

// RefError is an error status and what it means.
type RefError struct {
	Status int
	What   string
}

// refData is built the first time someone opens the page.
var refData = sync.OnceValue(func() *RefData {
	var doc map[string]any // as a client reads it: plain JSON values
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		panic(err)
	}
	comps := doc["components"].(map[string]any)["schemas"].(map[string]any)
	d := &RefData{}
	byTag := map[string]int{}
	for _, op := range apiOps {
		pathItem := doc["paths"].(map[string]any)[op.Path].(map[string]any)
		o := pathItem[strings.ToLower(op.Method)].(map[string]any)
		r := RefOp{ID: o["operationId"].(string), Method: op.Method, Path: op.Path, Summary: op.Summary, Who: op.Who, Status: op.Status, Errors: op.Errors}
		if op.Media == "PATCH" {
			r.Method += " · PATCH"
		}
		for _, p := range op.Params {
			t := p.Type
			if p.Enum != nil {
				t += ": " + strings.Join(p.Enum, ", ")
			}
			r.Params = append(r.Params, RefField{Name: p.Name, Type: t, Doc: p.Doc})
		}
		if rb, ok := o["requestBody"].(map[string]any); ok {
			for media, c := range rb["content"].(map[string]any) {
				sch := c.(map[string]any)["schema"].(map[string]any)
				if media == "multipart/form-data" {
					r.Body = "multipart/form-data"
					r.BodyFields = fieldsOf(sch)
					continue
				}
				r.Body = typeName(sch)
				if ref, ok := sch["$ref"].(string); ok {
					r.BodyFields = fieldsOf(comps[refName(ref)].(map[string]any))
				}
			}
		}
		if ok, has := o["responses"].(map[string]any)[strconv.Itoa(op.Status)].(map[string]any)["content"].(map[string]any); has {
			var media []string
			for m, c := range ok {
				if m == "application/json" {
					media = append([]string{typeName(c.(map[string]any)["schema"].(map[string]any))}, media...)
				} else {
					media = append(media, m)
				}
			}
			r.Resp = strings.Join(media, " or ")
		}
		i, seen := byTag[op.Tag]
		if !seen {
			i = len(d.Groups)
			byTag[op.Tag] = i
			d.Groups = append(d.Groups, RefGroup{Tag: op.Tag})
		}
		d.Groups[i].Ops = append(d.Groups[i].Ops, r)
	}
	for name, s := range comps {
		d.Schemas = append(d.Schemas, RefSchema{Name: name, Fields: fieldsOf(s.(map[string]any))})
	}
	sort.Slice(d.Schemas, func(i, j int) bool { return d.Schemas[i].Name < d.Schemas[j].Name })
	for code, what := range errorCodes {
		d.Errors = append(d.Errors, RefError{code, what})
	}
	sort.Slice(d.Errors, func(i, j int) bool { return d.Errors[i].Status < d.Errors[j].Status })
	return d
})

func refName(ref string) string { return strings.TrimPrefix(ref, "#/components/schemas/") }

// typeName says a schema's type as a person reads it: "Ticket",
// "array of User", "string or null".
func typeName(s map[string]any) string {
	if ref, ok := s["$ref"].(string); ok {
		return refName(ref)
	}
	if alts, ok := s["anyOf"].([]any); ok {
		var parts []string
		for _, a := range alts {
			parts = append(parts, typeName(a.(map[string]any)))
		}
		return strings.Join(parts, " or ")
	}
	var types []string
	switch t := s["type"].(type) {
	case string:
		types = []string{t}
	case []string:
		types = t
	case []any:
		for _, x := range t {
			types = append(types, x.(string))
		}
	}
	if len(types) == 0 {
		return "any"
	}
	for i, t := range types {
		switch {
		case t == "array":
			types[i] = "array of " + typeName(s["items"].(map[string]any))
		case t == "object" && s["additionalProperties"] != nil && s["properties"] == nil:
			if ap, ok := s["additionalProperties"].(map[string]any); ok {
				types[i] = "map of " + typeName(ap)
			}
		case t == "string" && s["format"] != nil:
			types[i] = s["format"].(string)
		}
	}
	return strings.Join(types, " or ")
}

func fieldsOf(s map[string]any) []RefField {
	props, _ := s["properties"].(map[string]any)
	req := map[string]bool{}
	if r, ok := s["required"].([]any); ok {
		for _, n := range r {
			req[n.(string)] = true
		}
	}
	var out []RefField
	for name, p := range props {
		out = append(out, RefField{Name: name, Type: typeName(p.(map[string]any)), Required: req[name]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// apiReference is Help → API reference.
func (s *Server) apiReference(w http.ResponseWriter, r *http.Request, rq *Request) error {
	d := *refData()
	d.Base = strings.TrimSuffix(s.portalURL(r, rq), "/") + "/api/v1"
	pg := s.page(r, rq, "API reference", &d)
	return s.tpl.Render(w, http.StatusOK, "api_reference", pg)
}
