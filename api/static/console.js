// The console's behaviour: the player (speed, shortcuts, waveform, transcript that follows
// playback), field checks in Chinese, the knowledge-base lookup, the live call banner, and
// the live transcript of a call that is up (with the form's suggestions that follow it).
// Text from the server is always inserted with textContent, never as HTML.
"use strict";

(function () {
  const SPEEDS = [0.75, 1, 1.25, 1.5, 2];

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  // -- the player --------------------------------------------------------------------------
  function setUpPlayer(player) {
    const audio = document.getElementById("audio");
    const play = document.getElementById("play");
    const seek = document.getElementById("seek");
    const time = document.getElementById("time");
    const speed = document.getElementById("speed");
    const canvas = document.getElementById("waveform");
    const segments = Array.from(document.querySelectorAll(".segment"));
    const duration = () => (isFinite(audio.duration) && audio.duration > 0)
      ? audio.duration : parseFloat(player.dataset.duration) || 0;
    let peaks = [];

    function jump(seconds) {
      audio.currentTime = Math.min(Math.max(0, seconds), duration());
      update();
    }
    function toggle() {
      if (audio.paused) { audio.play(); } else { audio.pause(); }
    }
    function setRate(rate) {
      audio.playbackRate = rate;
      speed.value = String(rate);
    }
    function draw() {
      const ctx = canvas.getContext("2d");
      const w = canvas.width, h = canvas.height;
      ctx.clearRect(0, 0, w, h);
      const lanes = peaks.length || 1;
      const laneHeight = h / lanes;
      const colours = ["#7a3b00", "#1f4e79"];
      peaks.forEach((lane, index) => {
        ctx.fillStyle = colours[index % colours.length];
        const mid = laneHeight * index + laneHeight / 2;
        const step = w / Math.max(1, lane.length);
        lane.forEach((value, i) => {
          const bar = Math.max(1, value * (laneHeight / 2 - 2));
          ctx.fillRect(i * step, mid - bar, Math.max(1, step - 0.5), bar * 2);
        });
      });
      const x = duration() ? (audio.currentTime / duration()) * w : 0;
      ctx.fillStyle = "#d00";
      ctx.fillRect(x, 0, 2, h);
    }
    function update() {
      time.textContent = clock(audio.currentTime);
      seek.value = String(audio.currentTime);
      const now = audio.currentTime;
      let current = null;
      for (const segment of segments) {
        const start = parseFloat(segment.dataset.start), end = parseFloat(segment.dataset.end);
        if (now >= start && now < end + 0.3) current = segment;
      }
      for (const segment of segments) segment.classList.toggle("current", segment === current);
      if (current && !current.dataset.seen) {
        current.dataset.seen = "1";
        current.scrollIntoView({ block: "nearest" });
      }
      draw();
    }

    play.addEventListener("click", toggle);
    audio.addEventListener("play", () => { play.textContent = "暂停"; });
    audio.addEventListener("pause", () => { play.textContent = "播放"; });
    audio.addEventListener("timeupdate", update);
    audio.addEventListener("seeked", update);
    audio.addEventListener("loadedmetadata", () => {
      seek.max = String(duration());
      document.getElementById("duration").textContent = clock(duration());
    });
    seek.addEventListener("input", () => jump(parseFloat(seek.value)));
    speed.addEventListener("change", () => setRate(parseFloat(speed.value)));
    canvas.addEventListener("click", (event) => {
      const box = canvas.getBoundingClientRect();
      jump(((event.clientX - box.left) / box.width) * duration());
    });
    for (const segment of segments) {
      const go = () => { jump(parseFloat(segment.dataset.start)); };
      segment.addEventListener("click", go);
      segment.addEventListener("keydown", (event) => { if (event.key === "Enter") go(); });
    }
    document.addEventListener("keydown", (event) => {
      if (!event.altKey) return;
      const key = event.key.toLowerCase();
      const index = SPEEDS.indexOf(audio.playbackRate);
      if (key === "k") toggle();
      else if (key === "j") jump(audio.currentTime - 5);
      else if (key === "l") jump(audio.currentTime + 5);
      else if (key === ",") setRate(SPEEDS[Math.max(0, index - 1)] || 1);
      else if (key === ".") setRate(SPEEDS[Math.min(SPEEDS.length - 1, index + 1)] || 1);
      else return;
      event.preventDefault();
    });
    fetch("/api/recordings/" + encodeURIComponent(player.dataset.recording) + "/waveform",
      { credentials: "same-origin" })
      .then((response) => response.ok ? response.json() : { channels: [] })
      .then((data) => { peaks = data.channels; canvas.dataset.ready = "1"; draw(); });
    draw();
  }

  // -- the registration form -------------------------------------------------------------
  function showError(name, message) {
    const span = document.querySelector('[data-error-for="' + name + '"]');
    if (!span) return;
    span.textContent = message;
    const field = span.closest(".field");
    if (field) field.classList.toggle("invalid", Boolean(message));
  }

  // The phone check (one rule, the server's) and saving are in call.js.
  function setUpForm(form) {
    const radios = Array.from(form.querySelectorAll('[name="decision"]'));
    const reject = form.querySelector(".decision-reject");
    const onSpot = form.querySelector(".decision-on-spot");
    const reply = form.querySelector(".decision-reply");
    const sync = () => {
      const chosen = (radios.find((r) => r.checked) || { value: "" }).value;
      if (reject) reject.classList.toggle("hidden", chosen !== "reject");
      if (onSpot) onSpot.classList.toggle("hidden", chosen !== "on_spot");
      if (reply) reply.classList.toggle("hidden", chosen !== "reject" && chosen !== "on_spot");
    };
    radios.forEach((r) => r.addEventListener("change", sync));
    sync();
    const kbButton = document.getElementById("kb-search");
    if (kbButton) {
      const query = document.getElementById("kb-query");
      const run = () => searchKnowledge(query.value, form);
      kbButton.addEventListener("click", run);
      query.addEventListener("keydown", (event) => {
        if (event.key === "Enter") { event.preventDefault(); run(); }
      });
    }
  }

  function searchKnowledge(text, form) {
    const list = document.getElementById("kb-results");
    fetch("/api/knowledge?q=" + encodeURIComponent(text), { credentials: "same-origin" })
      .then((response) => response.ok ? response.json() : [])
      .then((hits) => {
        list.replaceChildren();
        if (!hits.length) { list.appendChild(el("li", "没有找到相关条目", { class: "muted" })); }
        for (const hit of hits) {
          const item = el("li");
          item.appendChild(el("strong", hit.entry.question));
          item.appendChild(el("div", hit.entry.answer));
          const use = el("button", "采用此答复", { type: "button" });
          use.addEventListener("click", () => {
            form.querySelector('[name="knowledge_entry_id"]').value = hit.entry.id;
            form.querySelector('[name="reply_text"]').value = hit.entry.answer;
          });
          item.appendChild(use);
          list.appendChild(item);
        }
      });
  }

  // -- the live call banner --------------------------------------------------------------
  function showCall(call) {
    const live = document.getElementById("live");
    if (!live) return;
    live.replaceChildren();
    const heading = call.kind === "ringing" ? "来电振铃：" : "通话中：";
    // A caller ID's display name is not a verified real name: only a name given on a case is.
    const name = call.caller_name
      ? "（" + (call.real_name ? "实名：" : "来电显示：") + call.caller_name + "）" : "";
    live.appendChild(el("h2", heading + (call.caller_number || "未知号码") + name));
    live.appendChild(el("a", "打开来电页面登记", { href: "/calls/" + call.call_id, id: "live-open" }));
    const calls = el("ul");
    calls.appendChild(el("li", "以往来电 " + call.earlier_calls.length + " 次"));
    for (const earlier of call.earlier_calls) {
      const item = el("li");
      item.appendChild(el("a", earlier.started_at_local, { href: "/calls/" + earlier.id }));
      item.appendChild(document.createTextNode(" " + earlier.outcome_label));
      calls.appendChild(item);
    }
    live.appendChild(calls);
    const cases = el("ul");
    cases.appendChild(el("li", "以往案件 " + call.earlier_cases.length + " 件"));
    for (const earlier of call.earlier_cases) {
      const item = el("li");
      item.appendChild(el("a", earlier.number, { href: "/cases/" + earlier.id }));
      item.appendChild(document.createTextNode(" " + earlier.title + "（" +
        earlier.status_label + "）"));
      cases.appendChild(item);
    }
    live.appendChild(cases);
    live.dataset.callId = call.call_id;
    live.dataset.kind = call.kind;
    live.classList.add("shown");
  }

  function listen() {
    if (!document.body.dataset.phone || !window.EventSource) return;
    const source = new EventSource("/api/console/events");
    source.addEventListener("hello", () => { document.body.dataset.live = "1"; });
    source.addEventListener("call", (event) => showCall(JSON.parse(event.data)));
    source.addEventListener("ended", (event) => {
      const live = document.getElementById("live");
      if (live && live.dataset.callId === JSON.parse(event.data).call_id) {
        live.classList.remove("shown");
        live.dataset.kind = "ended";
        live.replaceChildren();
      }
    });
  }

  // -- the live transcript -----------------------------------------------------------------
  const SPEAKER_LABELS = { caller: "来电人", operator: "话务员" };
  // The form's fields a transcript fills in; the operator's own typing is never overwritten.
  const SUGGESTED = ["case_type", "complainant_phone", "subject_unit", "title", "content",
    "transcript_text"];

  function utteranceItem(u) {
    const item = el("li", null, {
      class: "utterance " + u.speaker + (u.final ? " final" : " partial"),
      "data-id": String(u.id),
      "data-stream": u.stream || "",
      "data-speaker": u.speaker,
      "data-final": u.final ? "1" : "0",
      "data-start": String(u.start),
    });
    item.appendChild(el("span", (SPEAKER_LABELS[u.speaker] || u.speaker) + " " + clock(u.start),
      { class: "who" }));
    item.appendChild(el("span", u.text, { class: "text" }));
    return item;
  }

  function placeInTime(list, item) {
    const start = parseFloat(item.dataset.start);
    const next = Array.from(list.children)
      .find((other) => parseFloat(other.dataset.start) > start);
    list.insertBefore(item, next || null);
  }

  function trackEdits(form) {
    const sentBack = Boolean(document.getElementById("form-errors"));
    for (const name of SUGGESTED) {
      const field = form.querySelector('[name="' + name + '"]');
      if (!field || field.type === "hidden") continue;
      const mark = () => { field.dataset.edited = "1"; };
      field.addEventListener("input", mark);
      field.addEventListener("change", mark);
      if (sentBack) mark();  // the values of a form sent back are the operator's own
    }
  }

  function hintFor(field, id) {
    const box = field.closest(".field");
    let hint = document.getElementById(id) || box.querySelector(".hint");
    if (!hint) {
      hint = el("span", "", { class: "hint" });
      box.insertBefore(hint, box.querySelector(".error"));
    }
    hint.id = id;
    return hint;
  }

  function applySuggestions(form, suggested) {
    for (const name of SUGGESTED) {
      const field = form.querySelector('[name="' + name + '"]');
      const value = suggested.form[name];
      if (!field || field.dataset.edited || !value || field.value === value) continue;
      if (field.tagName === "SELECT" &&
        !Array.from(field.options).some((option) => option.value === value)) continue;
      field.value = value;
      field.dataset.suggested = "1";
      if (name === "content") {
        const hint = hintFor(field, "content-prefilled");
        hint.textContent = "已按转写预填，请与来电人核对后修改。";
        hint.hidden = false;
      }
    }
    const caseType = form.querySelector('[name="case_type"]');
    if (caseType && suggested.type_reason) {
      hintFor(caseType, "type-reason").textContent =
        "建议：依据通话中的“" + suggested.type_reason + "”";
    }
    const phone = form.querySelector('[name="complainant_phone"]');
    if (phone && suggested.numbers.length) {
      hintFor(phone, "numbers-hint").textContent =
        "通话中提到的号码：" + suggested.numbers.join("、");
    }
    const subject = form.querySelector('[name="subject_unit"]');
    if (subject && suggested.subjects.length) {
      hintFor(subject, "subjects-hint").textContent =
        "通话中提到：" + suggested.subjects.join("、");
    }
  }

  function followLive(panel, form) {
    const list = document.getElementById("live-utterances");
    const state = document.getElementById("live-state");
    const partials = {};  // stream -> the element of its text being spoken
    const say = (text, kind) => { state.textContent = text; panel.dataset.state = kind; };
    if (form) trackEdits(form);
    const source = new EventSource("/api/calls/" + encodeURIComponent(panel.dataset.callId) +
      "/live");
    source.addEventListener("open", () => say("通话中：转写随通话实时显示。", "live"));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        say("无法显示实时转写（无权查看，或来电不存在）。", "closed");
      } else {
        say("实时转写连接中断，正在重连…", "reconnecting");
      }
    });
    source.addEventListener("utterance", (event) => {
      const u = JSON.parse(event.data);
      const previous = partials[u.stream];
      if (previous) previous.remove();
      const item = utteranceItem(u);
      placeInTime(list, item);
      if (u.final) delete partials[u.stream]; else partials[u.stream] = item;
      list.scrollTop = list.scrollHeight;
    });
    source.addEventListener("retract", (event) => {
      const gone = JSON.parse(event.data);
      const item = partials[gone.stream];
      if (item && item.dataset.id === String(gone.id)) {
        item.remove();
        delete partials[gone.stream];
      }
    });
    source.addEventListener("suggestions", (event) => {
      if (form) applySuggestions(form, JSON.parse(event.data));
    });
    source.addEventListener("final", (event) => {
      source.close();
      const data = JSON.parse(event.data);
      list.replaceChildren();
      data.segments.forEach((segment, index) => {
        const item = utteranceItem({ id: "final-" + index, stream: "", speaker: segment.speaker,
          final: true, start: segment.start, text: segment.text });
        item.dataset.source = "transcript";
        placeInTime(list, item);
      });
      say("通话已结束：以下为最终转写。", "final");
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const player = document.getElementById("player");
    if (player) setUpPlayer(player);
    const form = document.getElementById("registration");
    if (form) setUpForm(form);
    const livePanel = document.getElementById("live-transcript");
    if (livePanel && window.EventSource) followLive(livePanel, form);
    listen();
  });
})();

// Dispatching forms (交办, 改派): the category follows the lead unit chosen, until the
// dispatcher sets the category by hand. data-follow maps each unit to its likeliest
// category; a unit with none leaves the category to be chosen.
(() => {
  "use strict";

  function followLead(form) {
    const lead = form.querySelector("select[name=lead_unit_id]");
    const category = form.querySelector("select[name=category]");
    if (!lead || !category) return;
    let follow = {};
    try {
      follow = JSON.parse(form.dataset.follow || "{}");
    } catch (error) {
      return;
    }
    // A form sent back with a category other than the one offered was chosen by hand.
    let byHand = form.dataset.byHand === "1";
    category.addEventListener("change", () => { byHand = true; });
    lead.addEventListener("change", () => {
      if (byHand) return;
      const wanted = follow[lead.value] || "";
      const known = Array.from(category.options).some((option) => option.value === wanted);
      category.value = known ? wanted : "";
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("form[data-follow]").forEach(followLead);
  });
})();
