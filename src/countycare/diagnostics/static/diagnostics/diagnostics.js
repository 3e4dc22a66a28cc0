/* Diagnostics pages: live waiting counters, report templates, one submission per form. No build step. */
(function () {
  "use strict";

  function units() {
    var node = document.getElementById("dx-units");
    return node ? JSON.parse(node.textContent) : { d: "%(days)s d %(hours)s h", d0: "%(days)s d",
      h: "%(hours)s h %(minutes)s min", h0: "%(hours)s h", m: "%(minutes)s min" };
  }

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_all, key) { return values[key]; });
  }

  function format(total, u) {
    var days = Math.floor(total / 1440), hours = Math.floor((total % 1440) / 60), minutes = total % 60;
    if (days) { return fill(hours ? u.d : u.d0, { days: days, hours: hours }); }
    if (hours) { return fill(minutes ? u.h : u.h0, { hours: hours, minutes: (minutes < 10 ? "0" : "") + minutes }); }
    return fill(u.m, { minutes: minutes });
  }

  // Every [data-since] shows the time waited since then; over [data-target] minutes it turns red.
  function tick() {
    var u = units(), now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var since = Date.parse(el.dataset.since);
      if (isNaN(since)) { return; }
      var total = Math.max(0, Math.floor((now - since) / 60000));
      el.textContent = format(total, u);
      var target = parseInt(el.dataset.target || "0", 10);
      el.classList.toggle("over-target", target > 0 && total > target);
      el.classList.toggle("near-target", target > 0 && total <= target && total >= target * 0.8);
    });
  }

  // The template picker fills findings and conclusion (asking first if the reader already wrote something).
  function onTemplate(event) {
    var select = event.target;
    if (!select.matches("[data-template-picker]")) { return; }
    var data = JSON.parse(document.getElementById("report-templates").textContent || "{}");
    var chosen = data[select.value];
    if (!chosen) { return; }
    var form = select.form;
    var findings = form.querySelector("[name=findings]"), conclusion = form.querySelector("[name=conclusion]");
    var written = (findings.value.trim() || conclusion.value.trim()) &&
      (findings.value !== chosen.findings || conclusion.value !== chosen.conclusion);
    if (written && !window.confirm(select.dataset.confirm)) { return; }
    findings.value = chosen.findings;
    conclusion.value = chosen.conclusion;
    findings.focus();
  }

  // A form marked data-once is sent once: a double click or a second Enter does nothing.
  function onSubmit(event) {
    var form = event.target;
    if (!form.matches("form[data-once]")) { return; }
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    var button = event.submitter;
    if (button) { button.classList.add("is-sending"); }
  }

  document.addEventListener("change", onTemplate);
  document.addEventListener("submit", onSubmit);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
  window.setInterval(tick, 15000);
})();
