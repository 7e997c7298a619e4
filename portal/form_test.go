package portal_test

import (
	"testing"

	"portaldesk/portal"
)

func TestFieldValidation(t *testing.T) {
	cases := []struct {
		typ      string
		required bool
		options  []string
		in, want string
		bad      bool
	}{
		{typ: "text", in: "  hello ", want: "hello"},
		{typ: "text", required: true, in: "   ", bad: true},
		{typ: "text", in: "", want: ""},
		{typ: "textarea", in: "line 1\n  line 2\n", want: "line 1\n  line 2"},
		{typ: "date", in: "2026-02-28", want: "2026-02-28"},
		{typ: "date", in: "2026-02-30", bad: true},
		{typ: "date", in: "28.02.2026", bad: true},
		{typ: "integer", in: "42", want: "42"},
		{typ: "integer", in: "-7", want: "-7"},
		{typ: "integer", in: "9223372036854775807", want: "9223372036854775807"},
		{typ: "integer", in: "9223372036854775808", bad: true},
		{typ: "integer", in: "4.2", bad: true},
		{typ: "integer", in: "forty", bad: true},
		{typ: "decimal", in: "12.50", want: "12.5"},
		{typ: "decimal", in: "12,5", want: "12.5"},
		{typ: "decimal", in: "-0.001", want: "-0.001"},
		{typ: "decimal", in: "1e9", bad: true},
		{typ: "decimal", in: "1/3", bad: true},
		{typ: "decimal", in: "abc", bad: true},
		{typ: "checkbox", in: "on", want: "yes"},
		{typ: "checkbox", in: "", want: "no"},
		{typ: "checkbox", required: true, in: "", bad: true},
		{typ: "checkbox", in: "maybe", bad: true},
		{typ: "select", options: []string{"Red", "Green"}, in: "Green", want: "Green"},
		{typ: "select", options: []string{"Red", "Green"}, in: "Blue", bad: true},
		{typ: "select", options: []string{"Red"}, required: true, in: "", bad: true},
		{typ: "email", in: "a@b.co", want: "a@b.co"},
		{typ: "email", in: "a@", bad: true},
		{typ: "email", in: "Bob <a@b.co>", bad: true},
		{typ: "phone", in: "+7 (495) 123-45-67", want: "+7 (495) 123-45-67"},
		{typ: "phone", in: "call me", bad: true},
		{typ: "url", in: "https://example.com/x", want: "https://example.com/x"},
		{typ: "url", in: "javascript:alert(1)", bad: true},
		{typ: "url", in: "example.com", bad: true},
	}
	for _, c := range cases {
		f := &portal.Field{Type: c.typ, Required: c.required, Options: c.options}
		got, msg := f.Normalize(c.in)
		if c.bad != (msg != "") {
			t.Errorf("%s %q: message %q, want bad=%v", c.typ, c.in, msg, c.bad)
			continue
		}
		if !c.bad && got != c.want {
			t.Errorf("%s %q = %q, want %q", c.typ, c.in, got, c.want)
		}
	}
}
