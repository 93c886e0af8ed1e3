/* Waiting-room screen: the newest calls large, recent calls below, every queue's length and wait.
 * Every call and recall is announced: a chime, then the browser's speech in the clinic's language.
 * Announcements queue up and never cut each other off; calls made at the same moment are each
 * held large on screen for HOLD_MS. A ticket is on the screen once: its recall replaces its line.
 * A large call keeps its number large: a long cabinet name wraps under it rather than shrinking
 * the call to one small line; the recent list shows only the lines that fit whole.
 */
(function () {
  "use strict";
  const { cfg, t, el, live, cabinetName, waitText, tick, dead, queueBadge } = window.CQ;
  const HOLD_MS = 15000;
  const HERO_MAX = 4;
  const RECENT_MAX = 12;
  const LINE_MIN_PX = 40;
  let calls = [];
  let queues = [];
  const firstSeen = new Map();
  const announced = (window.CQ_ANNOUNCED = []);

  // A call's moment: a recall is a new moment for the same ticket (held large and flashed again).
  const key = (c) => c.number + "|" + c.at;

  function render() {
    const now = Date.now();
    const fresh = calls.filter((c) => now - (firstSeen.get(key(c)) || 0) < HOLD_MS).slice(0, HERO_MAX);
    // Between bursts the latest call stays large, unless its patient was marked a no-show.
    const hero = fresh.length ? fresh : calls.filter((c) => !c.gone).slice(0, 1);
    const heroNode = document.getElementById("hero");
    heroNode.className = "hero n" + hero.length;
    heroNode.replaceChildren(...(hero.length ? hero.map((c) => callNode(c, "call", now)) :
      calls.length ? [] : [el("div", { class: "empty" }, t("no_calls"))]));
    const rest = calls.filter((c) => !hero.includes(c)).slice(0, RECENT_MAX);
    const recentNode = document.getElementById("recent");
    recentNode.replaceChildren(...rest.map((c) => el("li", {}, callNode(c, "line", now))));
    document.getElementById("queues").replaceChildren(...queues.map((q) =>
      el("li", { "data-queue": q.service, class: "queue level-" + q.level },
        el("span", { class: "name" }, q.prefix + " · " + q.name),
        el("span", { class: "waiting" }, String(q.waiting)),
        el("span", { class: "unit" }, t("waiting")),
        el("span", { class: "eta" }, waitText(q.expected_wait_minutes)),
        queueBadge(q)))); // the level in a mark and a word, not only the bar's colour
    fit([...heroNode.querySelectorAll(".call")], heroNode);
    // A recent line shrinks to one line down to LINE_MIN_PX, then wraps its cabinet under it.
    for (const line of recentNode.querySelectorAll(".line")) {
      if (!fit([line], null, LINE_MIN_PX)) { line.classList.add("wrap"); fit([line], null, 12, LINE_MIN_PX); }
    }
    keepWhole(recentNode);
  }

  // Shrink the calls' font (from the size the stylesheet gives) only as far as needed: no word
  // wider than its line and, with a box, all of them inside it. A long cabinet name wraps under
  // the number first (screen.css), so a long name costs a line, not the size of every call.
  function fit(nodes, box, floor, start) {
    if (!nodes.length) return true;
    for (const n of nodes) n.style.fontSize = start ? start + "px" : "";
    let size = parseFloat(getComputedStyle(nodes[0]).fontSize);
    const over = () => {
      if (nodes.some((n) => n.scrollWidth > n.clientWidth + 1)) return true;
      if (!box) return false;
      const limit = box.getBoundingClientRect();
      return nodes.some((n) => { const r = n.getBoundingClientRect(); return r.top < limit.top || r.bottom > limit.bottom; });
    };
    while (over()) {
      const smaller = Math.floor(size * 0.94);
      if (smaller < (floor || 12)) return false;
      size = smaller;
      for (const n of nodes) n.style.fontSize = size + "px";
    }
    return true;
  }

  // Show as many recent calls as fit whole; a half-cut line is worse than none.
  function keepWhole(list) {
    const bottom = list.getBoundingClientRect().bottom;
    let full = false;
    for (const li of list.children) {
      full = full || li.getBoundingClientRect().bottom > bottom;
      li.hidden = full;
    }
  }

  function callNode(c, cls, now) {
    const node = el("div", { class: cls + (c.recall ? " recall" : ""), "data-number": c.number },
      el("span", { class: "number" }, c.number),
      el("span", { class: "arrow" }, " → "),
      el("span", { class: "cab" }, cabinetName(c.cabinet)),
      c.recall ? el("span", { class: "again" }, " (" + t("recall") + ")") : null);
    if (now - (firstSeen.get(key(c)) || 0) < HOLD_MS) node.classList.add("new");
    return node;
  }

  // -- sound: one announcement at a time, in order ---------------------------------------------
  const pending = [];
  let speaking = false;
  let audio = null;

  // A voice in another language than the clinic's reads "Т-009" as a word: give it the letter and
  // each digit apart ("Т 0 0 9"). The cabinet's name stays as the clinic wrote it.
  const foreignVoice = t("lang").slice(0, 2) !== String(cfg.clinic.locale || "").slice(0, 2);
  const spoken = (number) => (foreignVoice ? [...number.replace(/[-\s]/g, "")].join(" ") : number);

  function announce(c) {
    const text = t(c.recall ? "announce_recall" : "announce", { number: spoken(c.number), cabinet: cabinetName(c.cabinet) });
    announced.push(text);
    pending.push(text);
    if (!speaking) next();
  }

  function next() {
    const text = pending.shift();
    if (text === undefined) { speaking = false; return; }
    speaking = true;
    chime().then(() => speak(text)).then(next);
  }

  function chime() {
    return new Promise((done) => {
      try {
        audio = audio || new AudioContext();
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.connect(gain);
        gain.connect(audio.destination);
        const at = audio.currentTime;
        osc.frequency.setValueAtTime(880, at);
        osc.frequency.setValueAtTime(660, at + 0.3);
        gain.gain.setValueAtTime(0.25, at);
        gain.gain.exponentialRampToValueAtTime(0.001, at + 0.8);
        osc.start(at);
        osc.stop(at + 0.8);
      } catch (_) { /* no audio device */ }
      setTimeout(done, 900);
    });
  }

  function speak(text) {
    return new Promise((done) => {
      if (!("speechSynthesis" in window)) { done(); return; }
      const u = new SpeechSynthesisUtterance(text);
      u.lang = t("lang");
      u.rate = 0.9;
      let finished = false;
      const finish = () => { if (!finished) { finished = true; done(); } };
      // Some systems never fire onend (no voice installed): do not let the queue stall.
      setTimeout(finish, 4000 + text.length * 120);
      u.onend = finish;
      u.onerror = finish;
      window.speechSynthesis.speak(u);
    });
  }

  document.getElementById("sound").addEventListener("click", (e) => {
    audio = audio || new AudioContext();
    audio.resume();
    e.currentTarget.hidden = true;
  });

  // -- live ---------------------------------------------------------------------------------------
  // A link without its token can never connect: say that at once, not "the server does not answer".
  if (!window.CQ.token) {
    dead("refused", t("dead_no_token"));
    tick("clock");
    return;
  }
  live({
    credential: "token=" + encodeURIComponent(window.CQ.token),
    offlineCover: true, // a wall screen must look dead when it is
    onBoard(board) {
      calls = board.calls.map((c) => ({ number: c.number, cabinet: c.cabinet, at: c.at, recall: c.recall }));
      for (const c of calls) if (!firstSeen.has(key(c))) firstSeen.set(key(c), 0);
      queues = board.queues;
      render();
    },
    onEvent(ev) {
      if (ev.kind === "ticket_called" || ev.kind === "ticket_recalled") {
        const c = { number: ev.ticket.number, cabinet: ev.ticket.cabinet, at: ev.at, recall: ev.ticket.recalls || 0 };
        if (!firstSeen.get(key(c))) firstSeen.set(key(c), Date.now());
        calls = [c, ...calls.filter((x) => x.number !== c.number)].slice(0, 20);
        announce(c);
        render();
      } else if (ev.kind === "ticket_no_show") {
        // Not coming: the call leaves the large area for the recent list at once.
        for (const c of calls) if (c.number === ev.ticket.number) { c.gone = true; firstSeen.set(key(c), 0); }
        render();
      } else if (ev.kind === "day_opened") {
        calls = [];
        render();
      }
    },
  });
  tick("clock");
  setInterval(render, 1000);
  window.addEventListener("resize", render);
})();
