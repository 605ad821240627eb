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
