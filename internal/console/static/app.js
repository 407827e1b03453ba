// Firebreak console: keyboard use, phase clocks that count down, and the
// live-stream indicator. Everything here is an enhancement: each page
// works as plain HTML and forms without it. The Content-Security-Policy
// allows no inline script, so behaviour hangs off data- attributes.
(function () {
  "use strict";

  function typing(e) {
    var t = e.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-row]"));
  }

  // move selects the next (+1) or previous (-1) row of a list and focuses
  // its link, so that Enter opens it.
  function move(d) {
    var list = rows();
    if (list.length === 0) return;
    var cur = list.findIndex(function (r) { return r.classList.contains("sel"); });
    var next = cur < 0 ? (d > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, cur + d));
    list.forEach(function (r) { r.classList.remove("sel"); });
    var row = list[next];
    row.classList.add("sel");
    var link = row.querySelector("a");
    if (link) link.focus();
  }

  // press submits the form of the button marked data-key=k, asking first
  // when it says data-confirm.
  function press(k) {
    var b = document.querySelector('[data-key="' + k + '"]');
    if (!b) return false;
    var q = b.getAttribute("data-confirm");
    if (q && !window.confirm(q)) return true;
    b.form ? b.form.requestSubmit(b) : b.click();
    return true;
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) return;
    var done = false;
    switch (e.key) {
      case "j": move(1); done = true; break;
      case "k": move(-1); done = true; break;
      case "a": done = press("a"); break;
      case "r": done = press("r"); break;
      case "e": done = press("e"); break;
      case "?":
        var h = document.getElementById("keys");
        if (h) { h.classList.toggle("open"); done = true; }
        break;
      case "Escape":
        var o = document.querySelector(".help.open");
        if (o) { o.classList.remove("open"); done = true; }
        break;
    }
    if (done) e.preventDefault();
  });

  // Buttons that ask first (resolve, reject): a click asks too.
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-confirm]");
    if (b && e.isTrusted && !window.confirm(b.getAttribute("data-confirm"))) e.preventDefault();
  });

  // Phase clocks count down between server renders.
  function human(s) {
    var neg = s < 0; s = Math.abs(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var out = h > 0 ? h + "h" + (m > 0 ? m + "m" : "") : m > 0 ? m + "m" + (sec > 0 && m < 10 ? sec + "s" : "") : sec + "s";
    return neg ? out + " over" : out + " left";
  }
  // The server's clock at render (data-now) keeps the count true when this
  // machine's clock is off.
  var skew = 0, srv = document.body && document.body.getAttribute("data-now");
  if (srv) skew = Date.parse(srv) - Date.now();
  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("data-deadline")) - now) / 1000);
      el.textContent = human(left);
      el.classList.toggle("late", left < 0);
    });
  }
  setInterval(tick, 1000);

  // The live indicator shows whether the event stream is connected.
  document.addEventListener("htmx:sseOpen", function () {
    document.querySelectorAll(".live").forEach(function (el) { el.classList.add("on"); el.textContent = "live"; });
  });
  document.addEventListener("htmx:sseError", function () {
    document.querySelectorAll(".live").forEach(function (el) { el.classList.remove("on"); el.textContent = "reconnecting…"; });
  });
})();
