// The dashboard's one script (no inline script: see center/web/headers.py).
// Keep countdowns live between page loads; the server's text is the fallback.
function tick() {
  document.querySelectorAll("[data-due]").forEach(function (el) {
    var ms = Date.parse(el.dataset.due) - Date.now(), over = ms < 0, s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    el.textContent = (over ? "已超期 " : "剩余 ") + (d ? d + "天" : "") + (d || h ? h + "小时" : "") + m + "分";
    if (over) { el.classList.add("overdue"); var tr = el.closest("tr"); if (tr) tr.classList.add("overdue"); }
  });
}
if (!document.body.dataset.frozen) { setInterval(tick, 30000); }
// A form that removes something asks first (data-confirm holds the question).
document.addEventListener("submit", function (ev) {
  var q = ev.target.dataset && ev.target.dataset.confirm;
  if (q && !window.confirm(q)) { ev.preventDefault(); }
});
// Date fields show 2026年12月2日 whatever the browser's locale (a native date
// input shows the locale's form): a text field the user may type into (the
// server reads every usual form, center/web/forms.py parse_day), and a button
// that opens the browser's calendar on a hidden native date input.
(function () {
  var DAY = /^\s*(\d{4})\s*[-\/.年]\s*(\d{1,2})\s*[-\/.月]\s*(\d{1,2})\s*日?\s*$|^\s*(\d{4})(\d{2})(\d{2})\s*$/;
  function iso(text) {
    var m = DAY.exec(text || "");
    if (!m) { return ""; }
    var y = m[1] || m[4], mo = m[2] || m[5], d = m[3] || m[6];
    return y + "-" + ("0" + mo).slice(-2) + "-" + ("0" + d).slice(-2);
  }
  function chinese(isoDay) {
    var p = isoDay.split("-");
    return p.length === 3 ? p[0] + "年" + parseInt(p[1], 10) + "月" + parseInt(p[2], 10) + "日" : "";
  }
  document.querySelectorAll("input.hall-date").forEach(function (text) {
    var picker = document.createElement("input"), button = document.createElement("button");
    picker.type = "date";
    picker.className = "hall-date-picker";
    picker.tabIndex = -1;
    picker.setAttribute("aria-hidden", "true");
    button.type = "button";
    button.className = "hall-date-button";
    button.textContent = "▾";
    button.title = "选择日期";
    button.setAttribute("aria-label", "选择日期");
    text.after(button, picker);
    text.addEventListener("change", function () {
      var v = iso(text.value);
      if (v) { text.value = chinese(v); }
    });
    button.addEventListener("click", function () {
      picker.value = iso(text.value);
      if (picker.showPicker) { picker.showPicker(); } else { picker.focus(); }
    });
    picker.addEventListener("change", function () {
      if (picker.value) { text.value = chinese(picker.value); }
    });
  });
})();
// A print button prints the page (the print view's layout is its own style sheet).
document.querySelectorAll("[data-print]").forEach(function (b) {
  b.addEventListener("click", function () { window.print(); });
});
