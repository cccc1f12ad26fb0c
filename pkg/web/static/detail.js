// detail.js: the website page's chart and panels, from the REST API. The chart is uPlot (vendored
// under /static/vendor), one line per region, with downtime periods shaded behind the lines.
"use strict";

(() => {
  const root = document.getElementById("detail");
  if (!root) return;
  const id = root.dataset.id;
  const { api, el, duration, datetime, ms } = Vigil;
  const ranges = { "1h": { days: 1, secs: 3600 }, "24h": { days: 1, secs: 86400 }, "7d": { days: 7, secs: 7 * 86400 }, "30d": { days: 30, secs: 30 * 86400 } };
  const colors = ["#4338ca", "#0e8a7e", "#c2410c", "#a21caf", "#0369a1", "#4d7c0f", "#b45309", "#be123c"];
  let range = "24h";
  let plot = null;
  let periods = [];

  const items = (data) => Array.isArray(data) ? data : (data && (data.items || data.downtimes || data.incidents)) || [];
  const cause = (c) => {
    if (!c) return "–";
    const parts = [];
    if (c.status_code) parts.push("HTTP " + c.status_code);
    else if (c.reason) parts.push(c.reason);
    else if (c.outcome) parts.push(c.outcome);
    if (c.message) parts.push(c.message);
    return parts.join(" · ") || "–";
  };
  const durationOf = (p) => p.duration_seconds !== undefined ? p.duration_seconds
    : ((p.ended_at ? Date.parse(p.ended_at) : Date.now()) - Date.parse(p.started_at)) / 1000;

  function setRangeLabels() {
    document.querySelectorAll(".range-label").forEach((n) => {
      n.textContent = n.textContent.replace(/last \S+/, "last " + range);
    });
  }

  // chartData merges the regions' series onto one time axis; a region without a point at a
  // time gets null there, which uPlot draws as a gap.
  function chartData(series, start) {
    const times = new Set();
    for (const s of series) for (const p of s.points || []) {
      const t = Date.parse(p.at) / 1000;
      if (t >= start) times.add(t);
    }
    const xs = Array.from(times).sort((a, b) => a - b);
    const index = new Map(xs.map((t, i) => [t, i]));
    const ys = series.map((s) => {
      const y = new Array(xs.length).fill(null);
      for (const p of s.points || []) {
        const i = index.get(Date.parse(p.at) / 1000);
        if (i !== undefined) y[i] = p.mean_ms;
      }
      return y;
    });
    return [xs, ...ys];
  }

  function shade(u) {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    for (const p of periods) {
      const s = Date.parse(p.started_at) / 1000;
      const e = p.ended_at ? Date.parse(p.ended_at) / 1000 : Date.now() / 1000;
      const x0 = u.valToPos(s, "x", true), x1 = Math.max(u.valToPos(e, "x", true), x0 + 2);
      ctx.fillStyle = "rgba(229, 72, 77, 0.16)";
      ctx.fillRect(x0, top, x1 - x0, height);
      ctx.fillStyle = "rgba(229, 72, 77, 0.75)";
      ctx.fillRect(x0, top, Math.min(2, x1 - x0), height);
    }
    ctx.restore();
  }

  function drawChart(resp) {
    const box = document.getElementById("chart");
    const now = Date.now() / 1000;
    const start = now - ranges[range].secs;
    const series = (resp && resp.series) || [];
    const data = chartData(series, start);
    const status = document.getElementById("chart-status");
    status.textContent = data[0].length ? "" : "No checks in this range yet.";
    const opts = {
      width: Math.max(280, box.clientWidth),
      height: window.innerWidth < 720 ? 220 : 300,
      scales: { x: { time: true, range: () => [start, now] }, y: { range: (u, lo, hi) => [0, Math.max(10, (hi || 0) * 1.15)] } },
      series: [{}].concat(series.map((s, i) => ({
        label: s.region, stroke: colors[i % colors.length], width: 2,
        points: { show: false }, spanGaps: false,
        value: (u, v) => v === null || v === undefined ? "–" : ms(v),
      }))),
      axes: [
        { stroke: "#59636e", grid: { stroke: "#eef1f4" }, ticks: { stroke: "#e1e4e8" } },
        { stroke: "#59636e", grid: { stroke: "#eef1f4" }, ticks: { stroke: "#e1e4e8" }, size: 64,
          values: (u, vals) => vals.map((v) => v >= 1000 ? (v / 1000) + " s" : v + " ms") },
      ],
      legend: { live: true },
      hooks: { drawClear: [shade] },
    };
    if (plot) plot.destroy();
    box.replaceChildren();
    plot = new uPlot(opts, data, box);
  }

  function hbars(target, rows, max) {
    target.replaceChildren();
    if (!rows.length) { target.append(el("p", { class: "muted" }, "No checks in this range yet.")); return; }
    for (const r of rows) {
      const fill = el("div", { class: "fill" + (r.cls ? " " + r.cls : "") });
      fill.style.width = (max > 0 ? Math.max(1, 100 * r.value / max) : 0) + "%";
      target.append(el("div", { class: "hbar" }, el("span", {}, r.label), el("div", { class: "track" }, fill), el("span", { class: "n" }, r.text)));
    }
  }

  function drawBreakdown(b) {
    const ph = (b && b.phases) || {};
    const phases = [["DNS", ph.dns_ms], ["Connect", ph.connect_ms], ["TLS", ph.tls_ms], ["TTFB", ph.ttfb_ms]]
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([label, v]) => ({ label, value: v, text: ms(v) }));
    hbars(document.getElementById("phases"), phases, Math.max(...phases.map((p) => p.value), 0));
    const codes = (b && b.status_codes) || [];
    const total = codes.reduce((a, c) => a + c.count, 0);
    hbars(document.getElementById("codes"), codes.map((c) => ({
      label: c.code ? String(c.code) : "No answer", value: c.count,
      text: (100 * c.count / total).toFixed(c.count === total ? 0 : 1) + "%",
      cls: !c.code || c.code >= 400 ? "bad" : (c.code >= 300 ? "redir" : ""),
    })), total);
  }

  function drawDowntime(list) {
    const box = document.getElementById("downtime");
    box.replaceChildren();
    const total = list.reduce((a, p) => a + durationOf(p), 0);
    box.append(el("div", { class: "summary" },
      el("div", {}, el("strong", {}, String(list.length)), el("span", { class: "muted" }, list.length === 1 ? "downtime" : "downtimes")),
      el("div", {}, el("strong", {}, list.length ? duration(total) : "0s"), el("span", { class: "muted" }, "total"))));
    if (!list.length) { box.append(el("p", { class: "muted" }, "No downtime in this range.")); return; }
    const body = el("tbody");
    for (const p of list) {
      body.append(el("tr", {},
        el("td", {}, datetime(p.started_at)),
        el("td", { class: "num" }, duration(durationOf(p)) + (p.ended_at ? "" : " (ongoing)")),
        el("td", {}, p.region || (p.regions || []).join(", ") || "–"),
        el("td", {}, cause(p.cause))));
    }
    box.append(el("div", { class: "table-scroll" }, el("table", { class: "table" },
      el("thead", {}, el("tr", {}, el("th", {}, "Start"), el("th", { class: "num" }, "Duration"), el("th", {}, "Region"), el("th", {}, "Cause"))), body)));
  }

  function drawIncidents(list) {
    const box = document.getElementById("incidents");
    box.replaceChildren();
    if (!list.length) { box.append(el("p", { class: "muted" }, "No incidents. When a quorum of regions confirms this website down, an incident opens here.")); return; }
    const body = el("tbody");
    for (const i of list) {
      const open = !i.ended_at;
      body.append(el("tr", {},
        el("td", {}, el("span", { class: "badge " + (open ? "s-down" : "s-up") }, el("span", { class: "dot", "aria-hidden": "true" }), open ? "Open" : "Resolved")),
        el("td", {}, datetime(i.started_at)),
        el("td", { class: "num" }, duration(durationOf(i))),
        el("td", {}, (i.regions || []).join(", ") || "–"),
        el("td", {}, cause(i.cause))));
    }
    box.append(el("div", { class: "table-scroll" }, el("table", { class: "table" },
      el("thead", {}, el("tr", {}, el("th", {}, "State"), el("th", {}, "Started"), el("th", { class: "num" }, "Duration"), el("th", {}, "Regions"), el("th", {}, "Cause"))), body)));
  }

  function failed(boxId, e) {
    const box = document.getElementById(boxId);
    box.replaceChildren(el("p", { class: "muted" }, "Could not load: " + e.message));
  }

  async function load() {
    const days = ranges[range].days;
    const since = Date.now() - ranges[range].secs * 1000;
    const base = "/monitor/" + encodeURIComponent(id);
    const [series, downtime, breakdown, incidents] = await Promise.allSettled([
      api("GET", base + "?days=" + days),
      api("GET", base + "/downtime?days=" + days),
      api("GET", base + "/breakdown?days=" + days),
      api("GET", "/incidents?website_id=" + encodeURIComponent(id) + "&limit=20"),
    ]);
    periods = downtime.status === "fulfilled"
      ? items(downtime.value).filter((p) => !p.ended_at || Date.parse(p.ended_at) >= since) : [];
    if (series.status === "fulfilled") {
      const pct = series.value && series.value.percentiles;
      for (const k of ["p50", "p95", "p99"]) document.getElementById(k).textContent = pct ? ms(pct[k + "_ms"]) : "–";
      drawChart(series.value);
    } else {
      document.getElementById("chart-status").textContent = "Could not load response times: " + series.reason.message;
      drawChart(null);
    }
    if (downtime.status === "fulfilled") drawDowntime(periods); else failed("downtime", downtime.reason);
    if (breakdown.status === "fulfilled") drawBreakdown(breakdown.value); else { failed("phases", breakdown.reason); failed("codes", breakdown.reason); }
    if (incidents.status === "fulfilled") drawIncidents(items(incidents.value)); else failed("incidents", incidents.reason);
  }

  document.querySelectorAll(".segmented button").forEach((b) => {
    b.addEventListener("click", () => {
      range = b.dataset.range;
      document.querySelectorAll(".segmented button").forEach((o) => o.setAttribute("aria-pressed", String(o === b)));
      setRangeLabels();
      load();
    });
  });

  document.getElementById("toggle").addEventListener("click", async (ev) => {
    const btn = ev.currentTarget;
    btn.disabled = true;
    try {
      await api("PATCH", "/websites/" + encodeURIComponent(id), { enabled: root.dataset.enabled !== "true" });
      location.reload();
    } catch (e) {
      btn.disabled = false;
      window.alert(e.message);
    }
  });

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (plot) plot.setSize({ width: Math.max(280, document.getElementById("chart").clientWidth), height: window.innerWidth < 720 ? 220 : 300 });
    }, 150);
  });

  load();
  Vigil.poll(load, 15000);
})();
