// Portaldesk: small progressive enhancements; every page works without them.
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy]");
    if (b) {
      var text = b.getAttribute("data-copy");
      if (navigator.clipboard) navigator.clipboard.writeText(text);
      var old = b.textContent;
      b.textContent = b.getAttribute("data-copied") || "Copied";
      setTimeout(function () { b.textContent = old; }, 1500);
    }
  });
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-print]")) window.print();
  });
  document.addEventListener("submit", function (e) {
    var f = e.target;
    var msg = f.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { e.preventDefault(); return; }
    var btn = f.querySelector("button[type=submit]");
    if (btn) setTimeout(function () { btn.disabled = true; }, 0);
  });
  // Filters apply as they change; typed words after a short pause.
  document.documentElement.classList.add("js");
  document.querySelectorAll("form[data-instant]").forEach(function (f) {
    var timer;
    var go = function () { if (f.requestSubmit) f.requestSubmit(); else f.submit(); };
    f.addEventListener("change", function (e) { if (e.target.type !== "search") go(); });
    f.addEventListener("input", function (e) {
      if (e.target.type !== "search") return;
      clearTimeout(timer);
      timer = setTimeout(go, 500);
    });
  });
  // A reply being written survives a reload: kept per ticket in this
  // browser, dropped when it is sent.
  var reply = document.querySelector("form[data-draft]");
  if (reply && window.localStorage) {
    var key = "pd-draft:" + reply.getAttribute("data-draft"), box = reply.querySelector("textarea[name=body]");
    try {
      if (box && !box.value && localStorage.getItem(key)) box.value = localStorage.getItem(key);
      if (box) box.addEventListener("input", function () {
        if (box.value) localStorage.setItem(key, box.value); else localStorage.removeItem(key);
      });
      // formdata fires however the form is sent, form.submit() included.
      reply.addEventListener("formdata", function () { localStorage.removeItem(key); });
    } catch (err) { /* storage refused: no draft */ }
  }
  // The slug field follows the company name until the user edits it.
  var company = document.getElementById("company"), slug = document.getElementById("slug");
  if (company && slug) {
    var touched = slug.value !== "";
    slug.addEventListener("input", function () { touched = true; });
    company.addEventListener("input", function () {
      if (touched) return;
      slug.value = company.value.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40);
    });
  }

  // Live updates: a page with data-live listens to the portal's stream and,
  // when its ticket (or any, on the table) changes, fetches itself again as
  // the signed-in person and swaps the parts named in data-parts. One stream
  // per page, closed with the page; nothing typed in a form is touched.
  var live = document.querySelector("[data-live]");
  if (live && window.EventSource && window.fetch && window.DOMParser) {
    var es = new EventSource(live.getAttribute("data-live"));
    var parts = live.getAttribute("data-parts").split(" ");
    var busy = false, again = false;
    var refresh = function () {
      if (busy) { again = true; return; }
      busy = true;
      fetch(location.href, { credentials: "same-origin", headers: { "X-Live": "1" } }).then(function (r) {
        return r.ok ? r.text() : "";
      }).then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        parts.forEach(function (id) {
          var now = document.getElementById(id), next = doc.getElementById(id);
          if (!now || !next) return;
          // Boxes ticked for a bulk change stay ticked.
          var ticked = {};
          now.querySelectorAll("input[type=checkbox]:checked").forEach(function (b) { ticked[b.name + "=" + b.value] = true; });
          now.innerHTML = next.innerHTML;
          now.querySelectorAll("input[type=checkbox]").forEach(function (b) { if (ticked[b.name + "=" + b.value]) b.checked = true; });
        });
        var unread = document.querySelectorAll("#rows tr.unread").length;
        if (document.getElementById("rows")) document.title = (unread ? "(" + unread + ") " : "") + document.title.replace(/^\(\d+\) /, "");
        document.dispatchEvent(new CustomEvent("pd:live"));
      }).catch(function () {}).then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
    };
    es.addEventListener("ticket", refresh);
    // Staff on a ticket's page see who else has it open and who is
    // writing; a mark of writing fades by itself after WritingFor.
    var viewers = document.getElementById("viewers");
    if (viewers) {
      var fade;
      var show = function (list) {
        viewers.textContent = "";
        viewers.hidden = list.length === 0;
        if (!list.length) return;
        viewers.appendChild(document.createTextNode(viewers.getAttribute("data-here") + " "));
        list.forEach(function (v, i) {
          var b = document.createElement("b");
          b.textContent = v.name;
          viewers.appendChild(b);
          if (v.writing) {
            var s = document.createElement("span");
            s.className = "writing";
            s.textContent = " (" + viewers.getAttribute("data-writing") + "…)";
            viewers.appendChild(s);
          }
          if (i < list.length - 1) viewers.appendChild(document.createTextNode(", "));
        });
        clearTimeout(fade);
        if (list.some(function (v) { return v.writing; })) {
          fade = setTimeout(function () { show(list.map(function (v) { return { name: v.name, writing: false }; })); }, 10500);
        }
      };
      es.addEventListener("viewers", function (e) { try { show(JSON.parse(e.data)); } catch (x) {} });
      var box = document.querySelector("#reply textarea[name=body]"), token = document.querySelector("#reply input[name=_csrf]");
      var sent = 0;
      if (box && token) box.addEventListener("input", function () {
        var now = Date.now();
        if (now - sent < 4000) return;
        sent = now;
        fetch(viewers.getAttribute("data-writing-url"), { method: "POST", credentials: "same-origin", body: new URLSearchParams({ _csrf: token.value }) }).catch(function () {});
      });
    }
    // After a reconnect (a restart, a stream's end) catch up on what was missed.
    var opened = false;
    es.addEventListener("open", function () { if (opened) refresh(); opened = true; });
    window.addEventListener("pagehide", function () { es.close(); });
  }

  // The views' counts, filled after the table shows.
  var views = document.querySelector("nav.views[data-counts]");
  if (views && window.fetch) {
    fetch(views.getAttribute("data-counts"), { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : { views: [] }; }).then(function (d) {
      (d.views || []).forEach(function (v) {
        views.querySelectorAll("a[data-view]").forEach(function (a) {
          if (a.getAttribute("data-view") === v.filters) a.querySelector(".count").textContent = v.count;
        });
      });
    }).catch(function () {});
  }

  // Views are put in order by dragging; the order is kept for the person.
  var orderForm = document.getElementById("views-order");
  if (views && orderForm && window.fetch) {
    var dragged = null;
    views.addEventListener("dragstart", function (e) {
      dragged = e.target.closest("a[data-key]");
      if (dragged) { e.dataTransfer.effectAllowed = "move"; dragged.classList.add("dragging"); }
    });
    views.addEventListener("dragover", function (e) {
      var over = e.target.closest("a[data-key]");
      if (!dragged || !over || over === dragged) return;
      e.preventDefault();
      var r = over.getBoundingClientRect();
      views.insertBefore(dragged, e.clientX > r.left + r.width / 2 ? over.nextSibling : over);
    });
    views.addEventListener("dragend", function () {
      if (!dragged) return;
      dragged.classList.remove("dragging");
      dragged = null;
      orderForm.order.value = Array.prototype.map.call(views.querySelectorAll("a[data-key]"), function (a) { return a.getAttribute("data-key"); }).join(",");
      fetch(orderForm.action, { method: "POST", credentials: "same-origin", body: new URLSearchParams(new FormData(orderForm)) }).catch(function () {});
    });
  }

  // Canned replies: "/" and a few letters in the reply box list the
  // matching ones; choosing one puts its text, filled for the ticket, in
  // place of what was typed.
  var canned = document.getElementById("canned"), replyBox = document.querySelector("#reply textarea[name=body]");
  if (canned && replyBox && window.fetch) {
    var token = document.querySelector("#reply input[name=_csrf]"), cwait;
    var typed = function () {
      var before = replyBox.value.slice(0, replyBox.selectionStart), m = /(^|\s)([\/#])([^\s\/#]*)$/.exec(before);
      return m ? { q: m[3], kind: m[2], from: before.length - m[3].length - 1 } : null;
    };
    var put = function (at, text) {
      var from = at ? at.from : replyBox.selectionStart, to = replyBox.selectionStart;
      replyBox.value = replyBox.value.slice(0, from) + text + replyBox.value.slice(to);
      replyBox.focus();
      canned.hidden = true;
      replyBox.dispatchEvent(new Event("input"));
    };
    var articles = function (t) {
      fetch(canned.getAttribute("data-articles") + "?q=" + encodeURIComponent(t.q), { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : { articles: [] }; }).then(function (d) {
        canned.textContent = "";
        (d.articles || []).forEach(function (a) {
          var li = document.createElement("li"), name = document.createElement("span");
          name.textContent = a.title + " — ";
          li.appendChild(name);
          [["data-link", a.title + ": " + a.url], ["data-text", a.text]].forEach(function (c, i) {
            var b = document.createElement("button");
            b.type = "button";
            b.className = "link";
            b.textContent = canned.getAttribute(c[0]);
            b.addEventListener("click", function () { put(typed(), c[1]); });
            if (i) li.appendChild(document.createTextNode(" · "));
            li.appendChild(b);
          });
          canned.appendChild(li);
        });
        canned.hidden = !canned.children.length;
      }).catch(function () {});
    };
    replyBox.addEventListener("input", function () {
      clearTimeout(cwait);
      var t = typed();
      if (!t) { canned.hidden = true; return; }
      if (t.kind === "#") {
        cwait = setTimeout(function () { if (t.q.length > 1) articles(t); }, 150);
        return;
      }
      cwait = setTimeout(function () {
        fetch(canned.getAttribute("data-search") + "&q=" + encodeURIComponent(t.q), { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : { replies: [] }; }).then(function (d) {
          canned.textContent = "";
          (d.replies || []).slice(0, 8).forEach(function (c) {
            var li = document.createElement("li"), b = document.createElement("button");
            b.type = "button";
            b.className = "link";
            b.textContent = (c.folder ? c.folder + " / " : "") + c.title;
            b.addEventListener("click", function () {
              var at = typed();
              fetch(canned.getAttribute("data-use").replace("/ID/", "/" + c.id + "/"), { method: "POST", credentials: "same-origin", body: new URLSearchParams({ _csrf: token.value }) })
                .then(function (r) { return r.ok ? r.json() : null; }).then(function (f) {
                  if (f) put(at, f.text);
                });
            });
            li.appendChild(b);
            canned.appendChild(li);
          });
          canned.hidden = !canned.children.length;
        }).catch(function () {});
      }, 150);
    });
  }

  // While a client types a new ticket's subject, the knowledge base's best
  // three answers appear beside the form.
  var suggest = document.getElementById("suggest"), subject = document.getElementById("subject");
  if (suggest && subject && window.fetch) {
    var wait, asked = "";
    subject.addEventListener("input", function () {
      clearTimeout(wait);
      wait = setTimeout(function () {
        var q = subject.value.trim();
        if (q.length < 3 || q === asked) return;
        asked = q;
        fetch(suggest.getAttribute("data-suggest") + "?q=" + encodeURIComponent(q), { credentials: "same-origin" }).then(function (r) {
          return r.ok ? r.json() : { articles: [] };
        }).then(function (d) {
          var ul = suggest.querySelector("ul");
          ul.textContent = "";
          (d.articles || []).forEach(function (a) {
            var li = document.createElement("li"), link = document.createElement("a"), ex = document.createElement("span");
            link.href = a.url;
            link.textContent = a.title;
            ex.className = "muted";
            ex.textContent = a.excerpt;
            li.appendChild(link);
            li.appendChild(document.createElement("br"));
            li.appendChild(ex);
            ul.appendChild(li);
          });
          suggest.hidden = !ul.children.length;
        }).catch(function () {});
      }, 300);
    });
  }

  // A menu that drops down closes when one clicks elsewhere.
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-tour]")) return; // the tour opens the menu it points into
    document.querySelectorAll("header details[open]").forEach(function (d) { if (!d.contains(e.target)) d.open = false; });
  });

  // The phone menu opens and closes behind its button.
  var menu = document.querySelector("[data-menu]");
  if (menu) menu.addEventListener("click", function () {
    var open = menu.closest("header").classList.toggle("open");
    menu.setAttribute("aria-expanded", open ? "true" : "false");
  });

  // Bulk changes: the bar shows while tickets are ticked; the header's box
  // ticks the page.
  var bulk = document.querySelector("form[data-bulk]");
  if (bulk) {
    var boxes = function () { return document.querySelectorAll("input[name=t][form=bulk]"); };
    var sync = function () {
      var n = 0, all = boxes(), head = document.querySelector("[data-pick-all]");
      all.forEach(function (b) { if (b.checked) n++; });
      bulk.classList.toggle("idle", n === 0 && !bulk.querySelector(".error-text"));
      bulk.querySelector("[data-bulk-count] b").textContent = n;
      if (head) head.checked = n > 0 && n === all.length;
    };
    document.addEventListener("change", function (e) {
      if (e.target.matches("[data-pick-all]")) boxes().forEach(function (b) { b.checked = e.target.checked; });
      if (e.target.matches("[data-pick-all], input[name=t][form=bulk]")) sync();
    });
    document.addEventListener("pd:live", sync);
    sync();
  }

  // The first-login tour: one step at a time, pointing at its menu entry.
  var tour = document.querySelector("[data-tour]");
  if (tour) {
    var steps = tour.querySelectorAll("li"), at = 0, next = tour.querySelector("[data-tour-next]");
    var show = function () {
      document.querySelectorAll(".tour-target").forEach(function (el) { el.classList.remove("tour-target"); });
      steps.forEach(function (li, i) { li.hidden = i !== at; });
      var sel = steps[at].getAttribute("data-target"), el = sel && document.querySelector("header " + sel);
      document.querySelectorAll("header details.nav-more").forEach(function (d) { d.open = !!(el && d.contains(el)); });
      if (el) el.classList.add("tour-target");
      next.textContent = at === steps.length - 1 ? next.getAttribute("data-done") || "OK" : next.getAttribute("data-next") || next.textContent;
    };
    next.setAttribute("data-next", next.textContent);
    next.setAttribute("data-done", "✓");
    next.addEventListener("click", function () {
      if (at < steps.length - 1) { at++; show(); } else { tour.hidden = true; document.querySelectorAll(".tour-target").forEach(function (el) { el.classList.remove("tour-target"); }); }
    });
    show();
  }
})();
