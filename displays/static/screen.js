/* Waiting-room screen: the newest calls large, recent calls below, every queue's length and wait.
 * Every call and recall is announced: a chime, then the browser's speech in the clinic's language.
 * Announcements queue up and never cut each other off; calls made at the same moment are each
 * held large on screen for HOLD_MS. A ticket is on the screen once: its recall replaces its line.
 * A large call keeps its number large: a long cabinet name wraps under it rather than shrinking
 * the call to one small line; the recent list shows only the lines that fit whole.
 */
(function () {
  "use strict";
  const { cfg, t, el, live, cabinetName, waitText, tick, dead, queueBadge, params } = window.CQ;
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

  // -- reading distance -------------------------------------------------------------------------
  // Laid out for patients ?distance= metres away (6 by default) on a ?diagonal=-inch panel (55):
  // what a patient needs (their number, the cabinet, the wait) gets a cap height of CAP_MM_PER_M
  // millimetres a metre (ADA 703.5.5: about 66 mm at 6 m). Below that size a call is not shrunk:
  // fewer calls are held large instead.
  const CAP_MM_PER_M = 11;
  const setting = (name, fallback) => { const v = Number(params.get(name)); return v > 0 ? v : fallback; };
  const DISTANCE_M = setting("distance", 6);
  const DIAGONAL_IN = setting("diagonal", 55);
  let readFont = 0; // px: the font size whose capitals are tall enough

  function layOut() {
    const ctx = document.createElement("canvas").getContext("2d");
    ctx.font = "800 100px " + getComputedStyle(document.body).fontFamily;
    const capRatio = ctx.measureText("Н").actualBoundingBoxAscent / 100 || 0.73;
    const pxPerMm = Math.hypot(innerWidth, innerHeight) / (DIAGONAL_IN * 25.4);
    readFont = Math.ceil((DISTANCE_M * CAP_MM_PER_M * pxPerMm) / capRatio);
    document.documentElement.style.setProperty("--read-font", readFont + "px");
    document.body.dataset.distance = String(DISTANCE_M);
  }

  function render() {
    const now = Date.now();
    const fresh = calls.filter((c) => now - (firstSeen.get(key(c)) || 0) < HOLD_MS).slice(0, HERO_MAX);
    // Between bursts the latest call stays large, unless its patient was marked a no-show.
    let hero = fresh.length ? fresh : calls.filter((c) => !c.gone).slice(0, 1);
    const heroNode = document.getElementById("hero");
    for (;;) {
      heroNode.className = "hero n" + hero.length;
      heroNode.replaceChildren(...(hero.length ? hero.map((c) => callNode(c, "call", now)) :
        calls.length ? [] : [el("div", { class: "empty" }, t("no_calls"))]));
      if (hero.length <= 1 || fit([...heroNode.querySelectorAll(".call")], heroNode, readFont)) break;
      hero = hero.slice(0, -1); // the oldest of the burst goes to the recent list, still readable
    }
    const rest = calls.filter((c) => !hero.includes(c)).slice(0, RECENT_MAX);
    const recentNode = document.getElementById("recent");
    recentNode.replaceChildren(...rest.map((c) => el("li", {}, callNode(c, "line", now))));
    document.getElementById("queues").replaceChildren(...queues.map((q) =>
      el("li", { "data-queue": q.service, class: "queue level-" + q.level },
        el("span", ownLang({ class: "name" }, true), q.prefix + " · " + q.name),
        el("span", { class: "waiting" }, String(q.waiting)),
        el("span", { class: "unit" }, t("waiting")),
        el("span", { class: "eta" }, ...waitNodes(q.expected_wait_minutes)),
        queueBadge(q)))); // the level in a mark and a word, not only the bar's colour
    fit([...heroNode.querySelectorAll(".call")], heroNode, readFont);
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

  // The clinic's own names on a page in another language carry the clinic's lang, so that a
  // screen reader says them with the right voice.
  function ownLang(attrs, named) {
    return named && foreignVoice ? Object.assign(attrs, { lang: clinicLang }) : attrs;
  }

  // "≈ 12 мин" with its number at reading size; "приём не ведётся" as words.
  function waitNodes(minutes) {
    if (minutes === null || minutes === undefined) return [waitText(minutes)];
    return t("wait_min", { minutes: "\u0001" }).split("\u0001")
      .flatMap((piece, i) => (i ? [el("b", { class: "minutes" }, String(minutes)), piece] : [piece]));
  }

  function callNode(c, cls, now) {
    const node = el("div", { class: cls + (c.recall ? " recall" : ""), "data-number": c.number },
      el("span", { class: "number" }, c.number),
      el("span", { class: "arrow" }, " → "),
      el("span", ownLang({ class: "cab" }, cfg.clinic.cabinets && cfg.clinic.cabinets[c.cabinet]), cabinetName(c.cabinet)),
      c.recall ? el("span", { class: "again" }, " (" + t("recall") + ")") : null);
    if (now - (firstSeen.get(key(c)) || 0) < HOLD_MS) node.classList.add("new");
    return node;
  }

  // -- sound: one announcement at a time, in order ---------------------------------------------
  // Each call is said REPEAT times (?repeat=, 2 by default: a patient who missed the first hears
  // the second). The clinic's names are said by a voice of their own language: on an English
  // screen of a Russian clinic, "Please go to" in English and "Кабинет 101" in Russian.
  // Sound that does not work is shown: "sound is off" while the audio cannot play, "no voice"
  // after speech failed, and nothing while both work.
  const REPEAT = Math.min(3, Math.max(1, Math.round(setting("repeat", 2))));
  const pending = [];
  const spokenLog = (window.CQ_SPOKEN = []);
  let speaking = false;
  let audio = null;
  let speechFailed = false;
  try { audio = new AudioContext(); } catch (_) { /* no audio device */ }

  const pageLang = t("lang");
  const clinicLang = String(cfg.clinic.locale || "ru");
  // A voice in another language than the clinic's reads "Т-009" as a word: give it the letter and
  // each digit apart ("Т 0 0 9"). The cabinet's name stays as the clinic wrote it.
  const foreignVoice = pageLang.slice(0, 2) !== clinicLang.slice(0, 2);
  const spoken = (number) => (foreignVoice ? [...number.replace(/[-\s]/g, "")].join(" ") : number);

  // The announcement as pieces, each with the language its voice must have.
  function pieces(c) {
    const named = cfg.clinic.cabinets && cfg.clinic.cabinets[c.cabinet];
    const cabinet = { text: cabinetName(c.cabinet), lang: named ? clinicLang : pageLang };
    const out = [];
    t(c.recall ? "announce_recall" : "announce", { number: spoken(c.number), cabinet: "\u0001" })
      .split("\u0001").forEach((text, i) => { if (i) out.push(cabinet); if (text.trim()) out.push({ text, lang: pageLang }); });
    return out;
  }

  function announce(c) {
    const parts = pieces(c);
    announced.push(parts.map((p) => p.text).join(""));
    for (let i = 0; i < REPEAT; i++) pending.push(parts);
    if (!speaking) next();
  }

  function next() {
    const parts = pending.shift();
    if (parts === undefined) { speaking = false; return; }
    speaking = true;
    chime().then(() => speak(parts)).then(next);
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

  function voiceFor(lang) {
    const voices = window.speechSynthesis.getVoices();
    return voices.find((v) => v.lang === lang) || voices.find((v) => v.lang.slice(0, 2) === lang.slice(0, 2)) || null;
  }

  function speak(parts) {
    return parts.reduce((before, part) => before.then(() => say1(part)), Promise.resolve());
  }

  function say1(part) {
    return new Promise((done) => {
      spokenLog.push([part.text, part.lang]);
      if (!("speechSynthesis" in window)) { speechFailed = true; paintSound(); done(); return; }
      const u = new SpeechSynthesisUtterance(part.text);
      u.lang = part.lang;
      const voice = voiceFor(part.lang);
      if (voice) u.voice = voice;
      u.rate = 0.9;
      let finished = false;
      const finish = () => { if (!finished) { finished = true; done(); } };
      // Some systems never fire onend (no voice installed): do not let the queue stall.
      setTimeout(finish, 4000 + part.text.length * 120);
      u.onend = () => { if (speechFailed) { speechFailed = false; paintSound(); } finish(); };
      u.onerror = (e) => {
        if (e.error !== "interrupted" && e.error !== "canceled") { speechFailed = true; paintSound(); }
        finish();
      };
      window.speechSynthesis.speak(u);
    });
  }

  const soundButton = document.getElementById("sound");
  function paintSound() {
    const off = !audio || audio.state !== "running";
    soundButton.hidden = !off && !speechFailed;
    soundButton.dataset.state = off ? "off" : speechFailed ? "no-voice" : "on";
    soundButton.textContent = t(off ? "sound_off" : "sound_no_voice");
  }
  soundButton.addEventListener("click", () => {
    try { audio = audio || new AudioContext(); audio.resume().then(paintSound); } catch (_) { /* none */ }
    speechFailed = false;
    paintSound();
  });
  if (audio) audio.addEventListener("statechange", paintSound);
  paintSound();

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
  layOut();
  setInterval(render, 1000);
  window.addEventListener("resize", () => { layOut(); render(); });
})();
