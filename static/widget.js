// Portaldesk's website widget: one script tag on a business's site adds a
// button that opens a panel to search the portal's public help and send a
// request with one of its forms. It talks only to the portal it came from,
// draws itself in a shadow root (the site's styles do not reach in, ours do
// not leak out), and writes server text with textContent only.
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || window.__portaldeskWidget) return;
  window.__portaldeskWidget = true;
  var base = me.src.replace(/widget\.js(\?.*)?$/, "");
  var api = base + "api/v1/widget";
  var onlyForm = me.getAttribute("data-form") || "";
  var lang = me.getAttribute("data-lang") || navigator.language || "en";

  function req(path, opts) {
    opts = opts || {};
    opts.headers = { "Accept-Language": lang };
    opts.credentials = "omit";
    return fetch(api + path, opts).then(function (r) {
      return r.json().then(function (body) { return { status: r.status, body: body }; }, function () { return { status: r.status, body: {} }; });
    });
  }

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "class") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }

  var css = ":host{all:initial}*{box-sizing:border-box;font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1c2333}" +
    ".btn{position:fixed;right:20px;bottom:20px;z-index:2147483000;background:var(--pd);color:#fff;border:0;border-radius:24px;padding:12px 20px;font-weight:600;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.2)}" +
    ".panel{position:fixed;right:20px;bottom:76px;z-index:2147483001;width:370px;max-width:calc(100vw - 40px);max-height:calc(100vh - 100px);overflow:auto;background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);display:none}" +
    ".panel.open{display:block}.head{background:var(--pd);color:#fff;padding:12px 16px;display:flex;justify-content:space-between;align-items:center;position:sticky;top:0}" +
    ".head *{color:#fff}.head strong{font-weight:600}.x{background:none;border:0;font-size:22px;line-height:1;cursor:pointer;padding:0 4px}" +
    "section{padding:12px 16px;border-bottom:1px solid #e3e7ef}h3{margin:0 0 8px;font-weight:600}label{display:block;margin:8px 0 2px;font-size:13px;color:#4a5468}" +
    "input,textarea,select{width:100%;padding:8px;border:1px solid #c5ccd9;border-radius:6px;background:#fff}textarea{min-height:90px;resize:vertical}" +
    "input[type=checkbox]{width:auto;margin-right:6px}.row{display:flex;gap:8px}.row input{flex:1}.row .go{margin-top:0}" +
    ".go{background:var(--pd);color:#fff;border:0;border-radius:6px;padding:9px 16px;font-weight:600;cursor:pointer;margin-top:10px}.go[disabled]{opacity:.6}" +
    "ul{list-style:none;margin:8px 0 0;padding:0}li{margin:0 0 10px}a{color:var(--pd);font-weight:600}li p{margin:2px 0 0;font-size:13px;color:#4a5468}" +
    ".err{color:#b3261e;font-size:13px;margin:2px 0 0}.bad{border-color:#b3261e}.msg{margin:8px 0 0}.msg.err{font-size:15px}.help{font-size:13px;color:#4a5468;margin:2px 0 0}.ok{color:#17603a}" +
    ".hp{position:absolute;left:-9999px;width:1px;height:1px;overflow:hidden}" +
    "@media (max-width:480px){.panel{right:0;left:0;bottom:0;width:100%;max-width:100%;max-height:100%;height:100%;border-radius:0}.btn{right:12px;bottom:12px}}";

  req("").then(function (r) {
    if (r.status !== 200) return; // off, or not on this site
    draw(r.body);
  }).catch(function () {});

  function draw(s) {
    var T = function (k) { return (s.texts && s.texts[k]) || k; };
    var host = el("div", { id: "portaldesk-widget" });
    var root = host.attachShadow({ mode: "open" });
    var colour = /^#[0-9a-fA-F]{6}$/.test(s.colour) ? s.colour : "#2855d8";
    var style = ":host{--pd:" + colour + "}" + css;
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(style);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      root.appendChild(el("style", { text: style }));
    }
    var panel = el("div", { class: "panel", role: "dialog", "aria-label": s.portal || T("Help") });
    var btn = el("button", { class: "btn", type: "button", "aria-expanded": "false", text: s.label || T("Help") });
    var close = el("button", { class: "x", type: "button", "aria-label": T("Close"), text: "×" });
    function toggle(open) {
      panel.classList.toggle("open", open);
      btn.setAttribute("aria-expanded", String(open));
    }
    btn.addEventListener("click", function () { toggle(!panel.classList.contains("open")); });
    close.addEventListener("click", function () { toggle(false); btn.focus(); });
    root.addEventListener("keydown", function (e) { if (e.key === "Escape") toggle(false); });
    panel.appendChild(el("div", { class: "head" }, [el("strong", { text: s.portal || T("Help") }), close]));

    if (s.help) {
      var q = el("input", { type: "search", name: "q", "aria-label": T("Search the help"), placeholder: T("Search the help") });
      var list = el("ul");
      var searchForm = el("form", { class: "search" }, [el("div", { class: "row" }, [q, el("button", { class: "go", type: "submit", text: T("Search") })]), list]);
      searchForm.addEventListener("submit", function (e) {
        e.preventDefault();
        req("/search?q=" + encodeURIComponent(q.value)).then(function (r) {
          list.textContent = "";
          var found = (r.body && r.body.articles) || [];
          if (!found.length) list.appendChild(el("li", { class: "help", text: T("Nothing found.") }));
          found.forEach(function (a) {
            list.appendChild(el("li", {}, [el("a", { href: a.url, target: "_blank", rel: "noopener", text: a.title }), el("p", { text: a.excerpt })]));
          });
        });
      });
      panel.appendChild(el("section", {}, [searchForm]));
    }

    var forms = s.forms || [];
    if (onlyForm) forms = forms.filter(function (f) { return f.slug === onlyForm; });
    if (!forms.length) forms = s.forms || [];
    var sec = el("section");
    var form = el("form", { novalidate: "" });
    var msg = el("p", { class: "msg", role: "status" });
    var inputs = {};
    var errors = {};
    function field(name, label, input, required, help) {
      input.id = "pd-" + name;
      input.name = name;
      if (required) input.required = true;
      var err = el("p", { class: "err", id: "pd-" + name + "-err" });
      errors[name] = err;
      inputs[name] = input;
      var lab = el("label", { for: input.id, text: label + (required ? " *" : "") });
      if (input.type === "checkbox") {
        lab.textContent = "";
        lab.appendChild(input);
        lab.appendChild(document.createTextNode(label + (required ? " *" : "")));
        return el("div", {}, [lab, help ? el("p", { class: "help", text: help }) : null, err]);
      }
      return el("div", {}, [lab, input, help ? el("p", { class: "help", text: help }) : null, err]);
    }
    function control(f) {
      switch (f.type) {
        case "textarea": return el("textarea");
        case "select":
          var sel = el("select", {}, [el("option", { value: "", text: "—" })]);
          (f.options || []).forEach(function (o) { sel.appendChild(el("option", { value: o, text: o })); });
          return sel;
        case "checkbox": return el("input", { type: "checkbox", value: "1" });
        case "date": return el("input", { type: "date" });
        case "integer": return el("input", { type: "number", step: "1" });
        case "decimal": return el("input", { type: "text", inputmode: "decimal" });
        case "email": return el("input", { type: "email" });
        case "phone": return el("input", { type: "tel" });
        case "url": return el("input", { type: "url" });
      }
      return el("input", { type: "text" });
    }
    var topic = null;
    var own = el("div");
    function drawForm() {
      own.textContent = "";
      var f = forms[topic ? topic.selectedIndex : 0];
      if (f.preamble) own.appendChild(el("p", { class: "help", text: f.preamble }));
      f.fields.forEach(function (fd) {
        own.appendChild(field(fd.name, fd.label, control(fd), fd.required, fd.help));
      });
    }
    form.appendChild(field("name", T("Your name"), el("input", { type: "text", autocomplete: "name" }), true));
    form.appendChild(field("email", T("Your email"), el("input", { type: "email", autocomplete: "email" }), true));
    if (forms.length > 1) {
      topic = el("select");
      forms.forEach(function (f) { topic.appendChild(el("option", { value: f.slug, text: f.name })); });
      form.appendChild(field("form", T("Topic"), topic, true));
      topic.addEventListener("change", drawForm);
    }
    form.appendChild(own);
    drawForm();
    var trap = el("input", { type: "text", name: "website", tabindex: "-1", autocomplete: "off" });
    form.appendChild(el("div", { class: "hp", "aria-hidden": "true" }, [trap]));
    var send = el("button", { class: "go", type: "submit", text: T("Send") });
    form.appendChild(send);
    form.appendChild(msg);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var f = forms[topic ? topic.selectedIndex : 0];
      var values = {};
      f.fields.forEach(function (fd) {
        var i = inputs[fd.name];
        values[fd.name] = i.type === "checkbox" ? (i.checked ? "1" : "") : i.value;
      });
      var body = { name: inputs.name.value, email: inputs.email.value, form: f.slug, fields: values, website: trap.value, shown: s.shown };
      Object.keys(errors).forEach(function (k) { errors[k].textContent = ""; if (inputs[k]) { inputs[k].classList.remove("bad"); inputs[k].removeAttribute("aria-invalid"); } });
      msg.textContent = T("Sending…");
      msg.className = "msg";
      send.disabled = true;
      // text/plain keeps it a simple request: no preflight round trip.
      req("/tickets", { method: "POST", headers: {}, body: JSON.stringify(body) }).then(function (r) {
        send.disabled = false;
        if (r.status === 201) {
          sec.textContent = "";
          sec.appendChild(el("p", { class: "ok", role: "status", text: T("Thank you! Your request is received as ticket #%d. We answer by mail.").replace("%d", r.body.number) }));
          return;
        }
        var er = (r.body && r.body.error) || {};
        var first = null;
        Object.keys(er.fields || {}).forEach(function (k) {
          if (errors[k]) {
            errors[k].textContent = er.fields[k];
            inputs[k].classList.add("bad");
            inputs[k].setAttribute("aria-invalid", "true");
            inputs[k].setAttribute("aria-describedby", errors[k].id);
            first = first || inputs[k];
          }
        });
        msg.className = "msg err";
        msg.textContent = er.message || T("Something went wrong. Please try again in a moment.");
        if (first) first.focus();
      }, function () {
        send.disabled = false;
        msg.className = "msg err";
        msg.textContent = T("Something went wrong. Please try again in a moment.");
      });
    });
    sec.appendChild(el("h3", { text: T("Send us a request") }));
    sec.appendChild(form);
    panel.appendChild(sec);
    root.appendChild(btn);
    root.appendChild(panel);
    document.body.appendChild(host);
  }
})();
