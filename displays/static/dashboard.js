/* Department head's dashboard: every doctor's state, every queue's load; put doctors on queues,
 * move them between cabinets, send them on a break. Colour is never the only signal.
 *
 * One line a doctor; its controls open under it on demand ("Изменить"; Escape closes), so twenty
 * doctors fit a screen. What a change or a forecast answers is shown in that editor, beside the row.
 *
 * Each doctor's controls follow the live state unless the head is editing that row (a control
 * has focus, or holds a change not yet applied). A change carries the duty version its row was
 * showing (If-Match): if a colleague changed the doctor meanwhile, the engine refuses it
 * (409 stale_duty) with the current state, which the row then shows. */
(function () {
  "use strict";
  const { cfg, t, api, live, el, waitText, serviceName, cabinetName, queueBadge, token } = window.CQ;
  const rows = new Map(); // doctor id -> its row: the live doctor, the controls, what they show
  let board = null;

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
        el("td", {}, queueBadge(q)))));
    const body = document.querySelector("#doctors tbody");
    for (const d of board.doctors) {
      if (!rows.has(d.id)) { const row = makeRow(d); body.append(row.tr, row.editor); }
      update(rows.get(d.id), d, false);
    }
  }

  function chosenServices(row) {
    return row.chips.filter((c) => c.input.checked).map((c) => c.input.value);
  }

  function sameSet(a, b) {
    return a.length === b.length && a.every((x) => b.includes(x));
  }

  // Changed but not applied: what the controls show is not what they were last set from.
  function dirty(row) {
    return row.shown.cabinet !== row.select.value || !sameSet(row.shown.services, chosenServices(row));
  }

  function editing(row) {
    return dirty(row) || row.edit.contains(document.activeElement);
  }

  // Set the controls from the doctor's live duty; the version goes with the next change.
  function sync(row) {
    const d = row.d;
    row.select.value = d.cabinet;
    for (const c of row.chips) c.input.checked = d.services.includes(c.input.value);
    row.shown = { cabinet: row.select.value, services: d.services.slice(), version: d.version || 0 };
  }

  function makeRow(d) {
    const td = (cls) => el("td", { class: cls });
    const select = el("select", { class: "move-cabinet" },
      ...Object.keys(cfg.clinic.cabinets).map((c) => el("option", { value: c }, cabinetName(c))));
    select.setAttribute("aria-label", t("cabinet_head")); // el() sets properties; ARIA needs attributes
    const chips = cfg.clinic.services.map((s) => {
      const input = el("input", { type: "checkbox", value: s.id });
      return { input, label: el("label", { class: "chip" }, input, el("span", {}, s.name)) };
    });
    const button = (cls, label, onclick) => el("button", { type: "button", class: cls, onclick }, label);
    const row = {
      d, select, chips, shown: null,
      cells: { name: td("name"), status: td("doc-status"), cabinet: td("cabinet"), services: td("services"),
        current: td("current"), served: td("served"), mean: td("mean"), idle: td("idle") },
      note: el("p", { class: "row-note", role: "status" }),
      // The answer to this row's last action: a result is polite, an error interrupts.
      message: el("p", { class: "row-message", role: "status" }),
      error: el("p", { class: "row-error", role: "alert" }),
      edit: el("div", { class: "controls" }, select, ...chips.map((c) => c.label)),
    };
    row.buttons = {
      whatIf: button("what-if", t("what_if"), () => whatIf(row)),
      move: button("move", t("move"), () => move(row)),
      onDuty: button("on-duty", t("go_on_duty"), () => setStatus(row, "on_duty")),
      brk: button("break", t("go_break"), () => setStatus(row, "break")),
      off: button("off", t("go_off"), () => setStatus(row, "off")),
    };
    const b = row.buttons;
    const editorId = "editor-" + d.id;
    // Twenty "Изменить" buttons: each is described by its doctor's name for a screen reader.
    row.cells.name.id = "name-" + d.id;
    row.toggle = el("button", {
      type: "button", class: "edit", onclick: () => (row.editor.hidden ? open(row) : close(row)),
    }, t("edit"));
    row.toggle.setAttribute("aria-expanded", "false");
    row.toggle.setAttribute("aria-controls", editorId);
    row.toggle.setAttribute("aria-describedby", row.cells.name.id);
    for (const x of [select, ...Object.values(b)]) x.setAttribute("aria-describedby", row.cells.name.id);
    row.tr = el("tr", { "data-doctor": d.id }, ...Object.values(row.cells),
      el("td", { class: "actions" }, row.toggle));
    row.editor = el("tr", { class: "editor", id: editorId, "data-editor-for": d.id },
      el("td", { colSpan: Object.keys(row.cells).length + 1 },
        el("div", { class: "editor-body" }, row.edit,
          el("div", { class: "buttons" }, b.whatIf, b.move, b.onDuty, b.brk, b.off)),
        row.note, row.message, row.error));
    row.editor.hidden = true;
    row.editor.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); close(row); } });
    row.toggle.addEventListener("keydown", (e) => { if (e.key === "Escape" && !row.editor.hidden) close(row); });
    row.edit.addEventListener("change", () => refresh(row));
    // Leaving an untouched row lets it follow live updates it held back while focused.
    row.edit.addEventListener("focusout", () => setTimeout(() => {
      if (!editing(row) && row.shown.version !== (row.d.version || 0)) { sync(row); refresh(row); }
    }, 0));
    rows.set(d.id, row);
    sync(row);
    return row;
  }

  function open(row) {
    row.editor.hidden = false;
    row.toggle.setAttribute("aria-expanded", "true");
    row.toggle.textContent = t("edit_close");
    row.tr.classList.add("open");
    refresh(row);
  }

  // Closing drops what was not applied: a hidden row must never hold a change against an old state.
  function close(row) {
    row.editor.hidden = true;
    row.toggle.setAttribute("aria-expanded", "false");
    row.toggle.textContent = t("edit");
    row.tr.classList.remove("open");
    answer(row, "", "");
    sync(row);
    refresh(row);
    row.toggle.focus();
  }

  // The answer to this row's action, shown beside the row and announced there.
  function answer(row, text, kind) {
    row.message.textContent = kind === "error" ? "" : text;
    row.error.textContent = kind === "error" ? t("error", { message: text }) : "";
  }

  // A newer duty for this row: texts always follow; controls only when not being edited.
  function update(row, d, force) {
    if ((d.version || 0) < (row.d.version || 0)) return; // an answer overtaken by a live event
    row.d = d;
    const shown = row.shown;
    if (shown.cabinet === d.cabinet && sameSet(shown.services, d.services)) {
      // Only the status moved (a break, a shift): what the controls were set from still holds,
      // so an edit begun meanwhile stays and goes out against the new version.
      shown.version = d.version || 0;
    } else if (force || !editing(row)) {
      sync(row);
    }
    refresh(row);
  }

  function holderOf(cabinet, self) {
    return board.doctors.find((o) => o.id !== self && o.status !== "off" && o.cabinet === cabinet);
  }

  function refresh(row) {
    const d = row.d, c = row.cells, b = row.buttons;
    const focused = row.editor.contains(document.activeElement) ? document.activeElement : null;
    const serving = d.status === "on_duty" && d.current;
    row.tr.dataset.status = d.status;
    c.name.textContent = d.name;
    c.status.className = "doc-status status-" + d.status;
    c.status.textContent = t(d.status === "on_duty" ? (serving ? "status_serving_doc" : "status_idle") : "status_" + d.status);
    c.cabinet.textContent = cabinetName(d.cabinet);
    c.services.textContent = c.services.title = d.services.map(serviceName).join(", ");
    c.current.textContent = d.current ? d.current + " (" + t("state_" + d.current_state) + ")" : "—";
    c.served.textContent = String(d.served);
    c.mean.textContent = d.mean_service_minutes === null ? "—" : t("minutes", { minutes: d.mean_service_minutes });
    c.idle.textContent = d.status === "on_duty" && !d.current ? t("minutes", { minutes: minutesSince(d.since) }) : "—";

    // Offer only what makes sense: a shift starts from off, a break is taken from a shift.
    b.onDuty.hidden = d.status === "on_duty";
    b.onDuty.textContent = t(d.status === "break" ? "go_back" : "go_on_duty");
    b.brk.hidden = d.status !== "on_duty";
    b.off.hidden = d.status === "off";
    const changed = dirty(row);
    const planned = changed ? row.select.value : d.cabinet;
    const holder = holderOf(planned, d.id);
    // Someone on duty may not share a cabinet (the engine refuses); an off doctor may be placed
    // there for later, with the warning, but cannot start the shift until it is free.
    b.move.disabled = !changed || chosenServices(row).length === 0 || Boolean(holder && d.status !== "off");
    b.onDuty.disabled = d.status === "off" && Boolean(holderOf(d.cabinet, d.id));
    row.tr.classList.toggle("editing", changed);

    let note = "", kind = "";
    if (holder) { note = t("cabinet_shared", { cabinet: cabinetName(planned), doctor: holder.name }); kind = "warn"; }
    else if (changed && row.shown.version !== (d.version || 0)) { note = t("changed_meanwhile"); kind = "warn"; }
    else if (changed) { note = t("unapplied"); kind = "info"; }
    row.note.textContent = note;
    row.note.dataset.kind = kind;
    // The button with the focus went away ("Начать смену" once on duty): the next one takes it.
    if (focused && !row.editor.hidden && (focused.hidden || focused.disabled)) {
      (Object.values(b).find((x) => !x.hidden && !x.disabled) || row.toggle).focus();
    }
  }

  function move(row) {
    duty(row, { cabinet: row.select.value, services: chosenServices(row) }, row.shown.version);
  }

  function setStatus(row, status) {
    duty(row, { status }, row.d.version || 0);
  }

  // The change carries the version its row showed; a 409 brings the doctor's current state.
  async function duty(row, body, version) {
    answer(row, "", "");
    try {
      const path = "/doctors/" + encodeURIComponent(row.d.id) + "/duty";
      patch(await api("PUT", path, body, { headers: { "If-Match": '"' + version + '"' } }), true);
      answer(row, t("done_ok"), "ok");
    } catch (e) {
      if (e.code === "stale_duty" && e.detail && e.detail.doctor) {
        patch(e.detail.doctor, true);
        const d = row.d;
        answer(row, e.message + " " + t("duty_now", {
          doctor: d.name, status: t("status_" + d.status), cabinet: cabinetName(d.cabinet),
          services: d.services.map(serviceName).join(", "),
        }), "error");
        return;
      }
      answer(row, e.message, "error");
    }
  }

  // Ask the simulator what the queues would look like with this doctor on these queues,
  // before moving anyone (clinic_sim's what-if, from the live board).
  async function whatIf(row) {
    const services = chosenServices(row);
    answer(row, t("what_if_running"), "ok");
    try {
      const out = await api("POST", "/what-if", { doctor: row.d.id, services, status: "on_duty" });
      const wait = (v) => v === null ? t("what_if_no_doctor") : t("minutes", { minutes: v });
      const queues = out.after.queues.map((q, i) => t("what_if_queue", {
        queue: q.name, after: wait(q.longest_wait_minutes), before: wait(out.before.queues[i].longest_wait_minutes),
      }));
      answer(row, t("what_if_result", {
        doctor: row.d.name,
        services: services.map((s) => t("quoted", { text: serviceName(s) })).join(", "),
        queues: queues.join("; "),
      }), "ok");
    } catch (e) {
      answer(row, e.message, "error");
    }
  }

  // A doctor's duty from a live event or an answer: newer versions only.
  function patch(duty, force) {
    if (!board) return;
    const old = board.doctors.find((d) => d.id === duty.id);
    if (!old || (duty.version || 0) < (old.version || 0)) return;
    const d = Object.assign({}, old, {
      status: duty.status, cabinet: duty.cabinet || old.cabinet, services: duty.services || old.services,
      version: duty.version || 0, since: duty.since === undefined ? old.since : duty.since,
    });
    board.doctors = board.doctors.map((x) => x.id === d.id ? d : x);
    if (rows.has(d.id)) update(rows.get(d.id), d, force);
    for (const row of rows.values()) if (row.d.id !== d.id) refresh(row); // shared-cabinet warnings
  }

  live({
    credential: "token=" + encodeURIComponent(token),
    offlineCover: true, // empty tables under a small badge read as a quiet morning
    onBoard(b) { board = b; render(); },
    onEvent(ev) { if (ev.doctor) patch(ev.doctor, false); },
  });
  setInterval(render, 30000);
})();
