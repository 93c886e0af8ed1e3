/* Department head's dashboard: every doctor's state, every queue's load; put doctors on queues,
 * move them between cabinets, send them on a break. Colour is never the only signal. */
(function () {
  "use strict";
  const { cfg, t, api, live, el, waitText, serviceName, cabinetName, levelBadge, say, token } = window.CQ;
  let board = null;
  const actionCells = new Map();

  function minutesSince(ms) {
    return ms ? Math.max(0, Math.floor((Date.now() - ms) / 60000)) : 0;
  }

  function render() {
    if (!board) return;
    document.querySelector("#queues tbody").replaceChildren(...board.queues.map((q) =>
      el("tr", { "data-queue": q.service, class: "level-" + q.level },
        el("td", {}, q.prefix + " · " + q.name),
        el("td", { class: "waiting" }, String(q.waiting)),
        el("td", {}, t("minutes", { minutes: q.longest_wait_minutes })),
        el("td", {}, waitText(q.expected_wait_minutes)),
        el("td", {}, levelBadge(q.level)))));
    document.querySelector("#doctors tbody").replaceChildren(...board.doctors.map((d) => {
      const serving = d.status === "on_duty" && d.current;
      const state = d.status === "on_duty" ? (serving ? "status_serving_doc" : "status_idle") : "status_" + d.status;
      return el("tr", { "data-doctor": d.id, "data-status": d.status },
        el("td", {}, d.name),
        el("td", { class: "doc-status status-" + d.status }, t(state)),
        el("td", { class: "cabinet" }, cabinetName(d.cabinet)),
        el("td", { class: "services" }, d.services.map(serviceName).join(", ")),
        el("td", {}, d.current ? d.current + " (" + t("state_" + d.current_state) + ")" : "—"),
        el("td", {}, String(d.served)),
        el("td", {}, d.mean_service_minutes === null ? "—" : t("minutes", { minutes: d.mean_service_minutes })),
        el("td", {}, d.status === "on_duty" && !d.current ? t("minutes", { minutes: minutesSince(d.since) }) : "—"),
        actions(d));
    }));
  }

  function actions(d) {
    // Built once per doctor so a re-render never resets a choice being made.
    if (actionCells.has(d.id)) return actionCells.get(d.id);
    const cabinet = el("select", { class: "move-cabinet" },
      ...Object.keys(cfg.clinic.cabinets).map((c) => el("option", { value: c, selected: c === d.cabinet }, cabinetName(c))));
    const boxes = cfg.clinic.services.map((s) =>
      el("label", {}, el("input", { type: "checkbox", value: s.id, checked: d.services.includes(s.id) }), " " + s.name));
    const apply = () => duty(d.id, {
      cabinet: cabinet.value,
      services: boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value),
    });
    const chosen = () => boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
    const cell = el("td", { class: "actions" },
      cabinet, el("span", { class: "boxes" }, ...boxes),
      el("button", { class: "what-if", onclick: () => whatIf(d, { services: chosen(), status: "on_duty" }) }, t("what_if")),
      el("button", { class: "move", onclick: apply }, t("move")),
      el("button", { class: "on-duty", onclick: () => duty(d.id, { status: "on_duty" }) }, t("go_on_duty")),
      el("button", { class: "break", onclick: () => duty(d.id, { status: "break" }) }, t("go_break")),
      el("button", { class: "off", onclick: () => duty(d.id, { status: "off" }) }, t("go_off")));
    actionCells.set(d.id, cell);
    return cell;
  }

  // Ask the simulator what the queues would look like with this doctor on these queues,
  // before moving anyone (clinic_sim's what-if, from the live board).
  async function whatIf(d, change) {
    say(t("what_if_running"), false);
    try {
      const out = await api("POST", "/what-if", Object.assign({ doctor: d.id }, change));
      const wait = (v) => v === null ? t("what_if_no_doctor") : t("minutes", { minutes: v });
      const rows = out.after.queues.map((q, i) =>
        q.name + ": " + wait(out.before.queues[i].longest_wait_minutes) + " → " + wait(q.longest_wait_minutes));
      say(t("what_if_result", { doctor: d.name }) + " " + rows.join("; "), false);
    } catch (e) {
      say(e.message, true);
    }
  }

  async function duty(id, body) {
    try {
      const out = await api("PUT", "/doctors/" + encodeURIComponent(id) + "/duty", body);
      patch(out);
      say(t("done_ok"), false);
    } catch (e) {
      say(e.message, true);
    }
  }

  function patch(duty) {
    if (!board) return;
    board.doctors = board.doctors.map((d) => d.id === duty.id ? Object.assign({}, d, {
      status: duty.status, cabinet: duty.cabinet || d.cabinet, services: duty.services || d.services,
    }) : d);
    render();
  }

  live({
    credential: "token=" + encodeURIComponent(token),
    onBoard(b) { board = b; render(); },
    onEvent(ev) { if (ev.doctor) patch(ev.doctor); },
  });
  setInterval(render, 30000);
})();
