// 漏接回拨: while a one-button callback is being placed, follow it and reload the page when
// its state changes (the operator answered, the caller answered, no answer, busy, failed).
(function () {
  "use strict";
  const followed = new Map();
  document.querySelectorAll("[data-open-dial]").forEach(function (el) {
    followed.set(el.dataset.openDial, el.dataset.status);
  });
  if (followed.size === 0) return;
  const started = Date.now();
  const LIMIT_MS = 3 * 60 * 1000;

  async function check() {
    for (const [id, status] of followed) {
      try {
        const response = await fetch("/api/operator-dials/" + encodeURIComponent(id), {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        if (!response.ok) continue;
        const dial = await response.json();
        if (dial.status !== status) {
          window.location.reload();
          return;
        }
      } catch (error) {
        // the console may be restarting: try again at the next tick
      }
    }
    if (Date.now() - started < LIMIT_MS) window.setTimeout(check, 1000);
  }
  window.setTimeout(check, 1000);
})();
