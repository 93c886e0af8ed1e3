/* Information desk, tickets: issue one (a priority category only once the registrar confirms
 * it; one ticket for a double press), and find one by the number a patient reads out, to see
 * where it stands, print it again, transfer or cancel it (two presses each). */
(function () {
  "use strict";
  const { cfg, t, api, el, serviceName } = window.CQ;
  const { $, tell, failText, once, newKey, arm, isArmed, disarm, card, print, focusIn, hooks, ARM_MS } = window.DESK;
  const REST_MS = 1200; // the issue button rests after a ticket: a double press lands in it

  // -- 1. issue a ticket --------------------------------------------------------------------

  const issueForm = $("issue-form");
  const issueButton = $("issue-button");
  let issueKey = null; // the ticket the registrar means to issue now; kept until it is shown
  let issued = null;

  const chosen = (name) => issueForm.querySelector('input[name="' + name + '"]:checked').value;

  function priorityChanged() {
    const priority = chosen("priority");
    $("confirm-line").hidden = !priority;
    $("priority-confirmed").checked = false;
  }

  issueForm.addEventListener("change", (e) => {
    issueKey = null; // another service or category is another ticket
    if (e.target.name === "priority") priorityChanged();
  });

  issueForm.addEventListener("submit", (e) => {
    e.preventDefault();
    if (issueButton.disabled) return;
    const service = chosen("service");
    const priority = chosen("priority");
    if (priority && !$("priority-confirmed").checked) {
      tell("issue", t("desk_priority_unconfirmed"), true);
      $("priority-confirmed").focus();
      return;
    }
    issueKey = issueKey || newKey();
    const key = issueKey;
    once("issue", "issue", async () => {
      // A disabled button drops the focus: give it back after, so Enter works for the next.
      const focused = document.activeElement === issueButton;
      const enable = () => {
        issueButton.disabled = false;
        if (focused && document.activeElement === document.body) issueButton.focus();
      };
      issueButton.disabled = true;
      let view;
      try {
        view = await api("POST", "/tickets", { service, priority, channel: "desk" }, { key });
      } catch (err) {
        // A refusal issued nothing: the next press is a new request. A lost answer, a busy
        // server or a rate limit keep the key, so pressing again cannot make a second ticket.
        if (err.status && err.status < 500 && err.status !== 429) issueKey = null;
        enable();
        tell("issue", failText(err), true);
        return;
      }
      issueKey = null;
      setTimeout(enable, REST_MS);
      issued = view;
      tell("issue", t("desk_issued", { number: view.number, service: view.service_name }), false);
      card($("issued"), view);
      // A category is confirmed for one patient: the next starts from none.
      issueForm.querySelector('input[name="priority"][value=""]').checked = true;
      priorityChanged();
      print(view, $("issued"));
    });
  });

  // Enter on a radio or the checkbox issues, as on the button (one path, one guard).
  issueForm.addEventListener("keydown", (e) => {
    if (e.code !== "Enter" && e.code !== "NumpadEnter") return;
    if (e.target.tagName === "INPUT") { e.preventDefault(); issueForm.requestSubmit(); }
  });

  function chooseService(n) {
    const radios = issueForm.querySelectorAll('input[name="service"]');
    const radio = radios[n - 1];
    if (!radio) return;
    radio.checked = true;
    issueKey = null;
    radio.focus();
  }

  // -- 2. find a ticket ---------------------------------------------------------------------

  let found = null; // the ticket shown in the find section
  let foundRefresh = null;

  function showFound(view) {
    disarm();
    const link = found && found.id === view.id ? found.status_url : null;
    found = Object.assign({}, view, { status_url: view.status_url || link });
    card($("found"), found);
    $("found-list").hidden = true;
    const open = ["waiting", "called", "serving", "suspended"].includes(found.state);
    $("found-actions").hidden = false;
    $("reprint").disabled = !open;
    $("transfer").disabled = !open;
    $("transfer-to").disabled = !open;
    $("cancel-ticket").disabled = !["waiting", "called", "suspended"].includes(found.state);
    $("cancel-reason").disabled = $("cancel-ticket").disabled;
    const select = $("transfer-to");
    for (const option of select.options) option.disabled = option.value === found.service;
    if (select.value === found.service) {
      const other = Array.from(select.options).find((o) => !o.disabled);
      if (other) select.value = other.value;
    }
  }

  function clearFound() {
    disarm();
    found = null;
    $("found").hidden = true;
    $("found-actions").hidden = true;
    $("found-list").hidden = true;
  }

  // The ticket as it stands now (ahead, wait, cabinet), after the hall moved.
  function refreshFound(soon) {
    clearTimeout(foundRefresh);
    if (!found) return;
    const id = found.id;
    foundRefresh = setTimeout(async () => {
      if (!found || found.id !== id) return;
      try {
        const view = await api("GET", "/tickets/" + encodeURIComponent(id));
        if (found && found.id === id && !isArmed()) showFound(view); // not under a confirmation
      } catch (_) { /* the next event tries again */ }
    }, soon ? 0 : 400);
  }

  $("find-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const number = $("find-number").value.trim();
    if (!number) return;
    once("find", "find", async () => {
      let out;
      try {
        out = await api("GET", "/tickets?number=" + encodeURIComponent(number));
      } catch (err) {
        clearFound();
        tell("find", failText(err), true);
        return;
      }
      const list = out.tickets;
      if (!list.length) {
        clearFound();
        tell("find", t("desk_found_none", { number }), true);
        return;
      }
      if (list.length === 1) {
        showFound(list[0]);
        tell("find", t("desk_found", { number: list[0].number, state: t("desk_state_" + list[0].state) }), false);
        return;
      }
      // Bare digits can name a ticket of each service: the registrar picks.
      clearFound();
      tell("find", t("desk_found_many", { count: list.length }), false);
      const box = $("found-list");
      box.replaceChildren(...list.map((v) => el("button", {
        type: "button", "data-ticket": v.id,
        onclick: () => { showFound(v); tell("find", t("desk_found", { number: v.number, state: t("desk_state_" + v.state) }), false); },
      }, v.number + " · " + v.service_name + " · " + t("desk_state_" + v.state))));
      box.hidden = false;
      box.querySelector("button").focus();
    });
  });

  function reprint(view, node) {
    if (!view) return;
    card(node, view);
    print(view, node);
  }

  $("reprint").addEventListener("click", () => reprint(found, $("found")));

  $("transfer").addEventListener("click", () => {
    if (!found) return;
    const ticket = found;
    const service = $("transfer-to").value;
    if (!isArmed("transfer", ticket.id + ">" + service)) {
      arm("transfer", ticket.id + ">" + service, $("transfer"), t("desk_transfer_confirm"), "find",
        t("desk_transfer_armed", { number: ticket.number, service: serviceName(service), seconds: ARM_MS / 1000 }));
      return;
    }
    disarm();
    once("ticket", "find", async () => {
      try {
        const view = await api("POST", "/tickets/" + encodeURIComponent(ticket.id) + "/transfer", { service });
        showFound(view);
        tell("find", t("desk_transferred", { number: view.number, service: view.service_name }), false);
        refreshFound(true);
      } catch (err) {
        tell("find", failText(err), true);
      }
    });
  });

  $("cancel-ticket").addEventListener("click", () => {
    if (!found) return;
    const ticket = found;
    const reason = $("cancel-reason").value;
    const why = t("desk_reason_" + reason);
    if (!isArmed("cancel", ticket.id + ":" + reason)) {
      arm("cancel", ticket.id + ":" + reason, $("cancel-ticket"), t("desk_cancel_confirm"), "find",
        t("desk_cancel_armed", { number: ticket.number, reason: why, seconds: ARM_MS / 1000 }));
      return;
    }
    disarm();
    once("ticket", "find", async () => {
      try {
        const view = await api("POST", "/tickets/" + encodeURIComponent(ticket.id) + "/cancel", { reason });
        showFound(view);
        tell("find", t("desk_cancelled", { number: view.number, reason: why }), false);
      } catch (err) {
        tell("find", failText(err), true);
      }
    });
  });

  hooks.key.push((e, typing) => {
    const digit = /^(Digit|Numpad)([1-9])$/.exec(e.code);
    if (digit && (e.altKey || (!typing && focusIn("issue"))) && !e.ctrlKey && !e.metaKey) {
      chooseService(Number(digit[2]));
      return true;
    }
    if (e.altKey && e.code === "KeyP") {
      if (found && !$("reprint").disabled) reprint(found, $("found"));
      else if (issued) reprint(issued, $("issued"));
      return true;
    }
    return false;
  });
  hooks.escape.push(() => {
    if (!focusIn("find")) return false;
    clearFound();
    tell("find", "", false);
    $("find-number").value = "";
    $("find-number").focus();
    return true;
  });
  // The found ticket follows the hall: people ahead, the wait, the cabinet it is called to.
  hooks.board.push(() => { if (found) refreshFound(false); });
  hooks.event.push((ev) => { if (found && ev.ticket) refreshFound(false); });
})();
