package provisioner_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/provisioner"
)

// TestOwnDomain: an admin on a tariff that includes it enters the host
// name, sees the record to create and what DNS says of it; once the record
// points at the service the portal is served there and mail links use it.
func TestOwnDomain(t *testing.T) {
	records := map[string]string{"wrong.acme.test": "10.0.0.9"}
	e := pdtest.New(t, provisioner.Config{Resolver: pdtest.DNS(t, records)})
	e.Create(t, "acme")
	admin := e.SignIn(t, "acme", "admin@acme.test")
	tok := e.Login(t, "acme", "admin@acme.test")

	// The free tariff has no own domain: the page says so, the API refuses.
	if p := pdtest.Do(t, admin, "GET", e.URL+"/acme/admin/domain", nil).Body; !strings.Contains(p, "Your tariff does not include an own domain.") {
		t.Fatal("the free tariff's domain page does not say it is not included")
	}
	if r := e.API(t, tok, "PUT", "acme", "/domain", map[string]any{"host": "help.acme.test"}); r.Status != 422 {
		t.Fatalf("a domain on the free tariff: %d", r.Status)
	}
	e.SetPlan(t, "acme", "business", 2, 0, 0)

	// Bad host names: an error at the field, nothing saved.
	for in, want := range map[string]string{"": "Enter a host name", "10.1.2.3": "not an IP address", "not a host": "This is not a host name"} {
		r := pdtest.Do(t, admin, "POST", e.URL+"/acme/admin/domain", url.Values{"domain": {in}})
		if r.Status != 422 || !strings.Contains(r.Body, want) || !strings.Contains(r.Body, `class="field-error"`) {
			t.Errorf("host %q: %d, want %q", in, r.Status, want)
		}
	}
	if d := e.API(t, tok, "GET", "acme", "/domain", nil).JSON(t); d["domain"] != nil {
		t.Fatalf("a refused host name was kept: %v", d)
	}

	// A name that points elsewhere: shown with the record to create.
	r := pdtest.Do(t, admin, "POST", e.URL+"/acme/admin/domain", url.Values{"domain": {"https://Wrong.Acme.test/"}})
	if r.Status != 303 {
		t.Fatalf("set: %d %s", r.Status, r.Body)
	}
	page := pdtest.Do(t, admin, "GET", e.URL+"/acme/admin/domain", nil).Body
	for _, want := range []string{"<code>wrong.acme.test</code>", "<code>A</code>", "<code>127.0.0.1</code>", "Waiting for DNS", "wrong.acme.test points to 10.0.0.9, not to 127.0.0.1."} {
		if !strings.Contains(page, want) {
			t.Errorf("the domain page lacks %q", want)
		}
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+"/login", nil, "Host", "wrong.acme.test"); strings.Contains(r.Body, "Acme") {
		t.Error("an unverified host name is served")
	}

	// The right one, once its record exists: verified by the hourly check.
	d := e.API(t, tok, "PUT", "acme", "/domain", map[string]any{"host": "help.acme.test"}).JSON(t)
	if d["verified"] != false || !strings.Contains(d["problem"].(string), "has no DNS record yet") {
		t.Fatalf("a host without a record: %v", d)
	}
	records["help.acme.test"] = "127.0.0.1"
	if checked, verified, err := e.Svc.CheckPendingDomains(context.Background()); err != nil || checked != 1 || verified != 1 {
		t.Fatalf("the periodic check: %d checked, %d verified, %v", checked, verified, err)
	}
	if r := pdtest.Do(t, nil, "GET", e.URL+"/login", nil, "Host", "help.acme.test"); r.Status != 200 || !strings.Contains(r.Body, "Acme") {
		t.Fatalf("the own host name is not served: %d", r.Status)
	}
	// Mail links use it.
	e.API(t, tok, "POST", "acme", "/users", map[string]any{"name": "Cleo", "email": "cleo@acme.test", "role": "client"})
	mails := e.Mails(t, "acme")
	if last := mails[len(mails)-1]; !strings.Contains(last, "http://help.acme.test/login") {
		t.Errorf("the invitation does not link to the own host name: %s", last)
	}
	// Removed: served under the service again, links too.
	if r := e.API(t, tok, "DELETE", "acme", "/domain", nil); r.Status != 204 {
		t.Fatalf("remove: %d", r.Status)
	}
	e.API(t, tok, "POST", "acme", "/users", map[string]any{"name": "Dan", "email": "dan@acme.test", "role": "client"})
	mails = e.Mails(t, "acme")
	if last := mails[len(mails)-1]; !strings.Contains(last, e.URL+"/acme/login") {
		t.Errorf("after removal the invitation links elsewhere: %s", last)
	}

	// The shell refuses a tariff without the feature unless forced.
	e.Create(t, "beta")
	if err := e.Svc.AddDomain(context.Background(), "beta", "help.beta.test", false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("the shell mapped a domain on the free tariff: %v", err)
	}
	if err := e.Svc.AddDomain(context.Background(), "beta", "help.beta.test", true); err != nil {
		t.Errorf("forced: %v", err)
	}
}
