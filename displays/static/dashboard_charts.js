/* The department head's pictures of the day: per queue, its length and longest wait over the
 * last hours and where the expected wait is going; per doctor, patients seen per hour.
 *
 * Drawn from GET /history (the journal's record, so a Redis loss loses none of it) and fetched
 * again shortly after each live event (cq.js dispatches "cq:event") and every minute. Every chart
 * is an inline SVG with an aria-label listing its numbers, next to a sentence saying the same;
 * colour is never the only signal (unstaffed buckets are hatched and said in words).
 */
(function () {
  "use strict";
  const { cfg, t, api, el, waitText, levelBadge } = window.CQ;
  const root = document.getElementById("history");
  // Doctors' load sits after the doctors' table, apart from the queues' charts above it.
  const loadList = document.querySelector(".history-doctors");
  if (!root) return;
  const SVG = "http://www.w3.org/2000/svg";
  const W = 360, H = 90, PAD = 4;
  const REFRESH_MS = 60000, AFTER_EVENT_MS = 3000;
  const hoursSelect = root.querySelector("#history-hours");
  const status = root.querySelector(".history-status");
  let pending = null, inFlight = false, again = false, charts = 0;

  function clock(ms) {
    return new Date(ms).toLocaleTimeString(t("lang"), {
      hour: "2-digit", minute: "2-digit", timeZone: cfg.clinic.timezone,
    });
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    for (const c of children) node.append(c);
    return node;
  }

  // One chart: bars (counts) or a line (minutes), with the numbers in its label and <title>.
  function chart(kind, values, h, opts) {
    const n = values.length;
    const top = Math.max(1, ...values, ...(opts.marks || []).map((m) => m.value));
    const x = (i) => PAD + (i * (W - 2 * PAD)) / n;
    const y = (v) => H - PAD - (v * (H - 2 * PAD)) / top;
    const label = opts.title + ". " + values.map((v, i) =>
      t(opts.unstaffed && opts.unstaffed[i] ? "history_unstaffed_point" : "history_point",
        { time: clock(h.buckets[i]), value: v })).join("; ");
    const body = [svg("title", {}, label)];
    body.push(svg("line", { x1: PAD, x2: W - PAD, y1: H - PAD, y2: H - PAD, class: "axis" }));
    for (const m of opts.marks || []) {
      body.push(svg("line", { x1: PAD, x2: W - PAD, y1: y(m.value), y2: y(m.value), class: "mark mark-" + m.level }));
    }
    if (kind === "bars") {
      // Not by colour alone: an unstaffed bucket's bar is hatched.
      const hatch = "cq-hatch-" + (++charts);
      body.push(svg("defs", {}, svg("pattern", { id: hatch, patternUnits: "userSpaceOnUse", width: 6, height: 6, patternTransform: "rotate(45)" },
        svg("rect", { width: 6, height: 6, class: "hatch-bg" }), svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, class: "hatch-line" }))));
      const bw = Math.max(1, (W - 2 * PAD) / n - 2);
      values.forEach((v, i) => {
        const off = opts.unstaffed && opts.unstaffed[i];
        const height = Math.max(v ? 2 : 0, H - PAD - y(v));
        const bar = svg("rect", {
          x: x(i) + 1, y: H - PAD - height, width: bw, height,
          class: "bar" + (off ? " unstaffed" : ""), "data-value": v,
        });
        if (off) bar.style.fill = "url(#" + hatch + ")";
        body.push(bar);
      });
    } else {
      const step = (W - 2 * PAD) / n;
      const points = values.map((v, i) => (x(i) + step / 2).toFixed(1) + "," + y(v).toFixed(1)).join(" ");
      body.push(svg("polyline", { points, class: "line" }));
      values.forEach((v, i) => body.push(svg("circle", { cx: x(i) + step / 2, cy: y(v), r: 2.5, class: "dot", "data-value": v })));
    }
    const drawn = svg("svg", {
      viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": label,
      class: "chart chart-" + kind, "data-series": opts.series, preserveAspectRatio: "none",
    }, ...body);
    // The time axis in words: where the chart starts and that its right edge is now.
    const times = el("div", { class: "times" },
      el("span", {}, clock(h.buckets[0])), el("span", {}, t("history_now_short")));
    times.setAttribute("aria-hidden", "true"); // the chart's label already says each time
    return el("div", { class: "chart-box" }, drawn, times);
  }

  function sum(values) { return values.reduce((a, b) => a + b, 0); }

  // The expected wait now and one hour (or the window's start) ago, said with an arrow and a word.
  function trend(q, h) {
    const per = Math.max(1, Math.round(60 / h.bucket_minutes));
    const last = q.expected_wait_minutes.length - 1;
    const now = q.expected_wait_minutes[last];
    const before = q.expected_wait_minutes[Math.max(0, last - per)];
    const word = now === null || before === null ? null
      : now > before ? "history_trend_up" : now < before ? "history_trend_down" : "history_trend_flat";
    // "No doctor" is not a wait: said as its own clause, not put where a number goes.
    const key = word ? "history_trend" : now !== null ? "history_trend_since"
      : before !== null ? "history_trend_stopped" : "history_trend_none";
    return el("p", { class: "trend", "data-trend": word ? word.replace("history_trend_", "") : "none" },
      t(key, { now: waitText(now), before: waitText(before) }), word ? " " + t(word) : "");
  }

  function queueCard(q, h, hours) {
    const last = q.waiting.length - 1;
    const levels = cfg.clinic.levels || {};
    const marks = [
      levels.yellow ? { value: levels.yellow, level: "yellow" } : null,
      levels.red ? { value: levels.red, level: "red" } : null,
    ].filter(Boolean);
    const service = cfg.clinic.services.find((s) => s.id === q.service) || { prefix: "" };
    return el("article", { class: "history-queue", "data-history-queue": q.service, "data-unstaffed": String(q.unstaffed[last]) },
      el("h3", {}, (service.prefix ? service.prefix + " · " : "") + q.name),
      q.unstaffed[last] ? el("p", { class: "unstaffed-note" }, levelBadge("red", null, t("queue_unstaffed"))) : null,
      el("p", { class: "now" }, t("history_now", {
        waiting: q.waiting[last], longest: q.longest_wait_minutes[last], hours,
        issued: sum(q.issued), called: sum(q.called), completed: sum(q.completed),
      })),
      trend(q, h),
      el("figure", {},
        el("figcaption", {}, t("history_waiting"),
          q.unstaffed.some(Boolean) ? " · " + t("history_hatched") : ""),
        chart("bars", q.peak_waiting, h, { title: q.name + " — " + t("history_waiting"), series: "waiting", unstaffed: q.unstaffed })),
      el("figure", {},
        el("figcaption", {}, t("history_longest"),
          levels.yellow && levels.red ? " · " + t("history_marks", { yellow: levels.yellow, red: levels.red }) : ""),
        chart("line", q.longest_wait_minutes, h, { title: q.name + " — " + t("history_longest"), series: "longest", marks })));
  }

  // Per hour, not per bucket: "patients seen per hour" reads the same at any bucket size.
  function hourly(values, h) {
    const per = Math.max(1, Math.round(60 / h.bucket_minutes));
    const out = [], starts = [];
    for (let i = values.length; i > 0; i -= per) {
      out.unshift(sum(values.slice(Math.max(0, i - per), i)));
      starts.unshift(h.buckets[Math.max(0, i - per)]);
    }
    return { values: out, buckets: starts };
  }

  function doctorRow(d, h, hours) {
    const served = hourly(d.served, h);
    const total = h.end - h.start;
    // Minutes with patients over the whole window, in minutes too: "0%" next to ten patients then
    // reads as what it is (under `clinicq demo` a visit lasts seconds of real time).
    const minutes = Math.round(sum(d.serving_minutes));
    const busy = total > 0 ? Math.round((100 * sum(d.serving_minutes) * 60000) / total) : 0;
    const last = served.values[served.values.length - 1];
    return el("li", { class: "history-doctor", "data-history-doctor": d.id },
      el("span", { class: "who" }, d.name),
      chart("bars", served.values, { buckets: served.buckets }, { title: d.name + " — " + t("history_served"), series: "served" }),
      el("span", { class: "load-text" }, t("history_load_text", { doctor: d.name, served: sum(d.served), hours, minutes, busy, last })));
  }

  function draw(h, hours) {
    root.querySelector(".history-queues").replaceChildren(...h.queues.map((q) => queueCard(q, h, hours)));
    loadList.replaceChildren(...h.doctors.map((d) => doctorRow(d, h, hours)));
    root.dataset.end = String(h.end);
    status.textContent = t("history_updated", { time: clock(h.end) });
    status.dataset.kind = "ok";
  }

  async function load() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    const hours = Number(hoursSelect.value);
    try {
      draw(await api("GET", "/history?hours=" + hours + "&bucket=" + (hours > 6 ? 30 : 15)), hours);
    } catch (e) {
      status.textContent = t("history_failed", { message: e.message });
      status.dataset.kind = "error";
    } finally {
      inFlight = false;
      if (again) { again = false; load(); }
    }
  }

  function soon() {
    // A burst of calls is one fetch: the journal already holds every event the push announced.
    if (pending) return;
    pending = setTimeout(() => { pending = null; load(); }, AFTER_EVENT_MS);
  }

  hoursSelect.addEventListener("change", load);
  window.addEventListener("cq:event", soon);
  setInterval(load, REFRESH_MS);
  status.textContent = t("history_loading");
  load();
})();
