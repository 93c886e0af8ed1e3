/* Dashboard: kiosk printers that need someone (out of paper, offline, gone silent), polled from
 * GET /alerts; every engine worker answers it from the states kept in Redis. */
(function () {
  "use strict";
  const { t, api, el } = window.CQ;
  const marks = { red: "■", yellow: "▲" };

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
      return; // the next poll tries again; the queues above stay live meanwhile
    }
    const section = document.getElementById("printers");
    section.querySelector("ul").replaceChildren(...printers.map((p) =>
      el("li", { class: "printer level-" + p.level, "data-kiosk": p.kiosk, "data-state": p.state },
        el("span", { class: "level", "data-level": p.level }, marks[p.level] || ""),
        " " + t("printer_line", { kiosk: p.kiosk, state: t("printer_" + p.state) }),
        rollNote(p))));
    section.hidden = printers.length === 0;
  }

  refresh();
  setInterval(refresh, 10000);
})();
