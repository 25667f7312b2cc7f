/**
 * The monitoring dashboard: one self-contained page polling `/monitoring` and `/health`.
 */
export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Chronicle dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; background: #fafafa; }
  h1 { margin: 0 0 .25rem; } h2 { margin: 1.5rem 0 .5rem; font-size: 1.05rem; }
  .muted { color: #777; } .ok { color: #1a7f37; } .bad { color: #cf222e; } .warn { color: #9a6700; }
  table { border-collapse: collapse; background: #fff; min-width: 40rem; }
  th, td { border: 1px solid #ddd; padding: .3rem .6rem; text-align: left; }
  th { background: #f0f0f0; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
  a { color: #0969da; }
</style>
</head>
<body>
<h1>Chronicle</h1>
<div class="muted">status <b id="status">…</b> · head <b id="head">…</b> · updated <span id="at">…</span> ·
  <a href="/docs">API docs</a> · <a href="/metrics">metrics</a> · <a href="/health">health</a></div>
<h2>Projections</h2>
<table><thead><tr><th>name</th><th>state</th><th>checkpoint</th><th>lag</th><th>quarantined</th><th>last error</th></tr></thead><tbody id="projections"></tbody></table>
<h2>Circuit breakers</h2>
<table><thead><tr><th>name</th><th>state</th><th>calls</th><th>failures</th><th>rejections</th><th>openings</th></tr></thead><tbody id="breakers"></tbody></table>
<h2>Operations</h2>
<table><thead><tr><th>source</th><th>name</th><th>ok</th><th>failed</th><th>avg ms</th><th>max ms</th></tr></thead><tbody id="totals"></tbody></table>
<h2>Recent alerts</h2>
<table><thead><tr><th>at</th><th>severity</th><th>title</th><th>message</th></tr></thead><tbody id="alerts"></tbody></table>
<script>
const esc = (v) => String(v ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const rows = (id, items, cells) => {
  document.getElementById(id).innerHTML = items.length === 0
    ? '<tr><td colspan="6" class="muted">none</td></tr>'
    : items.map((item) => "<tr>" + cells(item).map(([v, cls]) => '<td class="' + (cls ?? "") + '">' + esc(v) + "</td>").join("") + "</tr>").join("");
};
async function refresh() {
  try {
    const [m, h] = await Promise.all([fetch("/monitoring").then((r) => r.json()), fetch("/health").then((r) => r.json())]);
    const s = document.getElementById("status");
    s.textContent = h.status; s.className = h.status === "ok" ? "ok" : h.status === "degraded" ? "warn" : "bad";
    document.getElementById("head").textContent = m.head ?? "?";
    document.getElementById("at").textContent = new Date(m.generatedAt).toLocaleTimeString();
    rows("projections", m.projections, (p) => [[p.name], [p.state, p.state === "failed" ? "bad" : p.state === "running" ? "ok" : ""], [p.checkpoint, "n"], [p.lag, p.lag > 0 ? "n warn" : "n"], [p.quarantined, p.quarantined > 0 ? "n bad" : "n"], [p.lastError ?? ""]]);
    rows("breakers", m.breakers, (b) => [[b.name], [b.state, b.state === "Closed" ? "ok" : "bad"], [b.calls, "n"], [b.failures, "n"], [b.rejections, "n"], [b.openings, "n"]]);
    rows("totals", m.operations.totals, (t) => [[t.source], [t.name], [t.successes, "n"], [t.failures, t.failures > 0 ? "n warn" : "n"], [t.averageMillis.toFixed(2), "n"], [t.maxMillis.toFixed(2), "n"]]);
    rows("alerts", m.alerts.slice(-20).reverse(), (a) => [[new Date(a.at).toLocaleTimeString()], [a.severity], [a.title], [a.message]]);
  } catch (error) {
    const s = document.getElementById("status"); s.textContent = "unreachable"; s.className = "bad";
  }
}
refresh(); setInterval(refresh, 2000);
</script>
</body>
</html>
`
