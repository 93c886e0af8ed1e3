/* Dashboard: the kiosk printers. Above, those that need someone (out of paper, offline, cover
 * open, unconfirmed tickets, silent); below, the whole fleet: state, last answer, last ticket,
 * today's failed and unconfirmed jobs, the roll. Both follow the clinic's live socket: a
 * "printer" frame (a printer changed, in any engine worker) fetches them at once, and the
 * board frames the socket sends anyway (every second when busy, every 30 s when quiet) keep
 * "silent for N minutes" current. No polling loop of its own. */
(function () {
  "use strict";
  const { t, api, el, clock } = window.CQ;
  const marks = { red: "■", yellow: "▲" };
  const BOARD_REFRESH_MS = 10000; // at most one fetch per this on board frames alone

  // How much of the roll is used, once the sensor says near end: staff judge when to swap it.
  function rollNote(p) {
    if (p.state !== "paper_near_end") return "";
    const key = p.left_estimate == null ? "printer_roll" : "printer_roll_left";
    return el("span", { class: "roll" }, " · " + t(key, { count: p.printed_since_roll, left: p.left_estimate }));
  }

  async function refresh() {
    let printers;
    try {
      printers = (await api("GET", "/alerts")).printers;
    } catch (_) {
      return; // the next frame tries again; the queues above stay live meanwhile
    }
    const section = document.getElementById("printers");
    section.querySelector("ul").replaceChildren(...printers.map((p) =>
      el("li", { class: "printer level-" + p.level, "data-kiosk": p.kiosk, "data-state": p.state },
        el("span", { class: "level", "data-level": p.level }, marks[p.level] || ""),
        " " + t("printer_line", { kiosk: p.kiosk, state: t("printer_" + p.state) }),
        rollNote(p))));
    section.hidden = printers.length === 0;
  }

  const when = (ms) => (ms ? clock(new Date(ms)) : "—");

  function stateText(p) {
    const said = t("printer_" + p.state);
    return p.silent_minutes == null ? said : said + " · " + t("fleet_silent", { minutes: p.silent_minutes });
  }

  function paperText(p) {
    if (p.state === "paper_out") return t("printer_paper_out");
    const used = t("fleet_roll", { count: p.printed_since_roll });
    return p.left_estimate == null ? used : used + " · " + t("fleet_left", { left: p.left_estimate });
  }

  async function refreshFleet() {
    let fleet;
    try {
      fleet = (await api("GET", "/printers")).printers;
    } catch (_) {
      return;
    }
    const section = document.getElementById("fleet");
    if (!section) return;
    section.querySelector("tbody").replaceChildren(...fleet.map((p) =>
      el("tr", {
        class: "level-" + (p.level || "none"), "data-kiosk": p.kiosk, "data-state": p.state,
        "data-level": p.level || "", "data-silent": p.silent_minutes == null ? "" : String(p.silent_minutes),
      },
      el("td", {}, p.kiosk),
      el("td", { class: "state" }, el("span", { class: "level", "data-level": p.level || "" }, marks[p.level] || "●"), " " + stateText(p)),
      el("td", { class: "seen" }, when(p.last_seen)),
      el("td", { class: "printed" }, when(p.last_printed)),
      el("td", { class: "failed" }, String(p.failed_today)),
      el("td", { class: "unconfirmed" }, String(p.unconfirmed_today)),
      el("td", { class: "paper" }, paperText(p)))));
    section.hidden = fleet.length === 0;
  }

  let lastBoardFetch = 0;
  let pending = null;
  function both() {
    if (pending !== null) return;
    pending = setTimeout(() => { pending = null; refresh(); refreshFleet(); }, 100); // a burst, one fetch
  }

  window.addEventListener("cq:printer", both);
  window.addEventListener("cq:board", () => {
    if (Date.now() - lastBoardFetch < BOARD_REFRESH_MS) return;
    lastBoardFetch = Date.now();
    both();
  });
  both();
})();
