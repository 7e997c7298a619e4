package main

import (
	"context"
	"os/user"
	"strings"
	"testing"

	"portaldesk/provisioner"
)

// TestShellCommandsAreAudited: every ops command that changes something,
// run from the shell, is in the ops audit log with the shell's user, its
// arguments and flags — and never a password.
func TestShellCommandsAreAudited(t *testing.T) {
	dir := t.TempDir()
	d := []string{"--data", dir}
	for _, c := range []struct {
		run  func([]string) error
		args []string
	}{
		{portals, []string{"create", "--slug", "acme", "--company", "Acme", "--admin-email", "a@acme.test", "--admin-password", "amber-lantern-57"}},
		{portals, []string{"list"}},
		{portals, []string{"set-tariff", "acme", "business", "--operators", "3"}},
		{portals, []string{"set-limits", "acme", "--db-mb", "50"}},
		{portals, []string{"domain", "add", "acme", "help.acme.test"}},
		{portals, []string{"suspend", "acme"}},
		{portals, []string{"resume", "acme"}},
		{billing, []string{"promo", "SPRING", "--percent", "10", "--from", "2026-03-01", "--to", "2026-03-31"}},
		{opsCmd, []string{"add-user", "--email", "root@vendor.test", "--password", "ops-password-1"}},
	} {
		if err := c.run(append(c.args, d...)); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
	}
	svc, err := openService(&provisioner.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	log, err := svc.Catalog().AuditLog(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	me, _ := user.Current()
	var got []string
	for _, e := range log {
		if e.Actor != "shell:"+me.Username {
			t.Errorf("%s by %q", e.Action, e.Actor)
		}
		if strings.Contains(e.Detail, "amber-lantern") || strings.Contains(e.Detail, "ops-password") {
			t.Errorf("a password in the log: %s", e.Detail)
		}
		got = append(got, e.Action+" "+e.Target+" "+e.Detail)
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{"portals create  --admin-email=a@acme.test", "portals set-tariff acme business --operators=3", "portals set-limits acme --db-mb=50",
		"portals domain add acme help.acme.test", "portals suspend acme", "portals resume acme", "billing promo SPRING", "ops add-user root@vendor.test"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in the log:\n%s", want, all)
		}
	}
	if strings.Contains(all, "portals list") {
		t.Error("a listing was recorded as an action")
	}
}
