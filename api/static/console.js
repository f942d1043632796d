// The console's behaviour: the player (speed, shortcuts, waveform, transcript that follows
// playback), field checks in Chinese, the knowledge-base lookup, and the live call banner.
// Text from the server is always inserted with textContent, never as HTML.
"use strict";

(function () {
  const MOBILE = /^1[3-9]\d{9}$/;
  const LANDLINE = /^0\d{2,3}-?\d{7,8}$/;
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

  function phoneMessage(value) {
    let text = value.replace(/[\s()（）-]/g, "");
    if (/^(\+86|0086)/.test(text)) {
      text = text.replace(/^(\+86|0086)/, "");
      if (!MOBILE.test(text) && !text.startsWith("0")) text = "0" + text;
    }
    if (!text || MOBILE.test(text) || LANDLINE.test(text)) return "";
    return "联系电话格式不正确：请填写11位手机号，或带区号的固定电话（如010-62345678）";
  }

  function setUpForm(form) {
    const phone = form.querySelector('[name="complainant_phone"]');
    if (phone) {
      const check = () => showError("complainant_phone", phoneMessage(phone.value));
      phone.addEventListener("blur", check);
      phone.addEventListener("input", () => { if (!phoneMessage(phone.value)) check(); });
    }
    form.addEventListener("submit", (event) => {
      if (phone && phoneMessage(phone.value)) {
        showError("complainant_phone", phoneMessage(phone.value));
        phone.focus();
        event.preventDefault();
      }
    });
    const radios = Array.from(form.querySelectorAll('[name="decision"]'));
    const reject = form.querySelector(".decision-reject");
    const onSpot = form.querySelector(".decision-on-spot");
    const sync = () => {
      const chosen = (radios.find((r) => r.checked) || { value: "" }).value;
      if (reject) reject.classList.toggle("hidden", chosen !== "reject");
      if (onSpot) onSpot.classList.toggle("hidden", chosen !== "on_spot");
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
    live.appendChild(el("h2", heading + (call.caller_number || "未知号码") +
      (call.caller_name ? "（" + call.caller_name + "）" : "")));
    live.appendChild(el("a", "打开来电页面登记", { href: "/calls/" + call.call_id, id: "live-open" }));
    const calls = el("ul");
    calls.appendChild(el("li", "以往来电 " + call.earlier_calls.length + " 次"));
    for (const earlier of call.earlier_calls) {
      const item = el("li");
      item.appendChild(el("a", earlier.started_at.slice(0, 16).replace("T", " "),
        { href: "/calls/" + earlier.id }));
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
  }

  document.addEventListener("DOMContentLoaded", () => {
    const player = document.getElementById("player");
    if (player) setUpPlayer(player);
    const form = document.getElementById("registration");
    if (form) setUpForm(form);
    listen();
  });
})();
