/* Dashboard: kiosk printers that need someone (out of paper, offline, gone silent), polled from
 * GET /alerts; every engine worker answers it from the states kept in Redis. */
(function () {
  "use strict";
  const { t, api, el } = window.CQ;
  const marks = { red: "■", yellow: "▲" };

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
        " " + t("printer_line", { kiosk: p.kiosk, state: t("printer_" + p.state) }))));
    section.hidden = printers.length === 0;
  }

  refresh();
  setInterval(refresh, 10000);
})();
