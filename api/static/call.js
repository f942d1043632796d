// The registration form (the call page's, the walk-in form's) and the case page's
// correction form, marked data-keep:
// - what is typed is kept as a draft in this tab (sessionStorage) until the form is saved,
//   and restored when the form is opened again, after logging in again too;
// - before saving, the session is asked whether it is still this user's: an expired
//   session, or someone else logged in in this browser, is said in Chinese and nothing is
//   sent (the typed form stays); a log-in of the same user elsewhere gives the form the
//   new session's token;
// - Enter in a one-line field moves to the next field (it never submits);
//   Ctrl+Enter or Ctrl+S saves; the first field (or the first wrong one) has the focus;
// - the phone is checked by the server's rule (POST /api/phone-check), the one the save uses.
// Text from the server is always inserted with textContent, never as HTML.
"use strict";

(function () {
  const PREFIX = "hotline-draft:";
  const SUBMITTED = "hotline-draft-submitted";
  const NOT_KEPT = new Set(["csrf_token"]);
  const ONE_LINE = new Set(["text", "tel", "datetime-local", "date", "number", "email",
    "search", "checkbox", "radio"]);

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  }

  function storage() {
    try { return window.sessionStorage; } catch (error) { return null; }
  }

  function draftKey(form) {
    return PREFIX + form.dataset.keep + ":" + form.dataset.username + ":" + location.pathname;
  }

  // The form's fields, those outside it that belong to it (form="…") included.
  function fields(form) {
    return Array.from(form.elements).filter((field) => field.name && !NOT_KEPT.has(field.name) &&
      field.type !== "file" && field.type !== "submit" && field.type !== "button");
  }

  function snapshot(form) {
    return fields(form).map((field) => (field.type === "checkbox" || field.type === "radio")
      ? [field.name, field.value, field.checked] : [field.name, field.value]);
  }

  function saveDraft(form) {
    const store = storage();
    if (!store) return;
    try {
      store.setItem(draftKey(form), JSON.stringify({ at: Date.now(), values: snapshot(form) }));
    } catch (error) { /* full or refused: the page itself still holds the text */ }
  }

  function readDraft(form) {
    const store = storage();
    const raw = store ? store.getItem(draftKey(form)) : null;
    if (!raw) return null;
    try { return JSON.parse(raw); } catch (error) { return null; }
  }

  function dropDraft(key) {
    const store = storage();
    if (store) store.removeItem(key);
  }

  function restore(form, draft) {
    const byName = {};
    for (const item of draft.values) (byName[item[0]] = byName[item[0]] || []).push(item);
    let changed = false;
    for (const field of fields(form)) {
      const items = byName[field.name];
      if (!items) continue;
      let differs = false;
      if (field.type === "checkbox" || field.type === "radio") {
        const item = items.find((i) => i[1] === field.value);
        if (item && field.checked !== item[2]) { field.checked = item[2]; differs = true; }
      } else {
        const item = items.shift();
        if (item && field.value !== item[1]) {
          field.value = item[1];
          field.dataset.edited = "1";  // the live transcript's suggestions leave it alone
          differs = true;
        }
      }
      if (differs) field.dispatchEvent(new Event("change", { bubbles: true }));
      changed = changed || differs;
    }
    return changed;
  }

  function showError(name, message) {
    for (const span of document.querySelectorAll('[data-error-for="' + name + '"]')) {
      span.textContent = message;
      const field = span.closest(".field");
      if (field) field.classList.toggle("invalid", Boolean(message));
    }
  }

  function alertBox(form) {
    return form.querySelector(".form-actions [role=alert]");
  }

  function say(form, parts) {
    const box = alertBox(form);
    if (!box) return;
    box.replaceChildren();
    for (const part of parts) {
      box.appendChild(typeof part === "string" ? document.createTextNode(part) : part);
    }
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  }

  function currentToken() {
    const field = document.querySelector('input[name="csrf_token"]');
    return field ? field.value : (document.body.dataset.csrf || "");
  }

  function useToken(token) {
    for (const field of document.querySelectorAll('input[name="csrf_token"]')) field.value = token;
    document.body.dataset.csrf = token;
  }

  // Whether saving can go ahead: the session is alive and is this form's user's.
  async function sessionVerdict(form) {
    const what = form.dataset.keep === "correction" ? "更正" : "登记";
    const kept = "您填写的内容仍在本页（也已在本标签页暂存），";
    let response;
    try {
      response = await fetch("/api/session", { credentials: "same-origin", cache: "no-store" });
    } catch (error) {
      return { ok: false, parts: ["无法连接服务器，本次" + what + "尚未保存。" + kept +
        "请检查网络后再点击保存。"] };
    }
    if (response.status === 401) {
      const back = location.pathname + location.search;
      const link = el("a", "重新登录", { href: "/login?next=" + encodeURIComponent(back),
        id: "relogin" });
      return { ok: false, expired: true, parts: ["登录已过期或已退出，本次" + what + "尚未保存。" +
        kept + "请", link, "，登录后回到本页会自动恢复，再点击保存。"] };
    }
    if (!response.ok) {
      return { ok: false, parts: ["服务器暂时无法确认登录状态，本次" + what + "尚未保存。" + kept +
        "请稍后再点击保存。"] };
    }
    const who = await response.json();
    if (who.username !== form.dataset.username) {
      return { ok: false, parts: ["本浏览器现已以“" + who.username + "”的身份登录，本次" + what +
        "尚未保存。" + kept + "请以“" + form.dataset.username + "”重新登录后再保存。"] };
    }
    if (who.csrf_token !== currentToken()) useToken(who.csrf_token);  // logged in again
    return { ok: true };
  }

  async function phoneVerdict(value) {
    try {
      const response = await fetch("/api/phone-check", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": currentToken() },
        body: JSON.stringify({ value: value }),
      });
      return response.ok ? await response.json() : null;
    } catch (error) {
      return null;
    }
  }

  function setUpPhone(form) {
    const phone = form.querySelector('[name="complainant_phone"]');
    if (!phone) return null;
    let asked = 0;
    const check = async () => {
      const mine = ++asked;
      const value = phone.value;
      const verdict = value.trim() ? await phoneVerdict(value) : { valid: true };
      if (mine !== asked || !verdict) return verdict;  // a newer check, or no answer
      showError("complainant_phone", verdict.valid ? "" : verdict.message_zh);
      return verdict;
    };
    phone.addEventListener("blur", check);
    phone.addEventListener("input", () => {
      if (phone.closest(".field").classList.contains("invalid")) check();
    });
    return { field: phone, check: check };
  }

  function nextField(form, from) {
    const all = Array.from(form.querySelectorAll("input, select, textarea, button"))
      .filter((f) => !f.disabled && f.type !== "hidden" && f.offsetParent !== null);
    const at = all.indexOf(from);
    return at >= 0 ? all[at + 1] : null;
  }

  function setUpForm(form) {
    const sentBack = Boolean(form.querySelector(".field.invalid, #form-errors"));
    const key = draftKey(form);
    const store = storage();
    const draft = sentBack ? null : readDraft(form);
    if (draft && restore(form, draft)) {
      if (form.closest("details")) form.closest("details").open = true;
      const when = new Date(draft.at).toLocaleTimeString("zh-CN", { hour12: false });
      const notice = el("p", "已恢复本页尚未保存的内容（" + when + " 暂存），请核对后保存。",
        { class: "warning", id: "draft-restored", role: "status" });
      const discard = el("button", "放弃暂存内容", { type: "button", id: "draft-discard" });
      discard.addEventListener("click", () => { dropDraft(key); location.reload(); });
      notice.appendChild(document.createTextNode(" "));
      notice.appendChild(discard);
      form.insertBefore(notice, form.firstChild);
    }
    let timer = null;
    const later = () => { clearTimeout(timer); timer = setTimeout(() => saveDraft(form), 300); };
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    for (const outside of document.querySelectorAll('[form="' + form.id + '"]')) {
      outside.addEventListener("input", later);
    }
    const phone = setUpPhone(form);

    let cleared = false;  // the checks passed: the next submit goes to the server
    form.addEventListener("submit", async (event) => {
      saveDraft(form);
      if (cleared) {
        cleared = false;
        if (store) store.setItem(SUBMITTED, key);
        return;
      }
      event.preventDefault();
      const submitter = event.submitter;
      const box = alertBox(form);
      if (box) box.hidden = true;
      const session = await sessionVerdict(form);
      if (!session.ok) {
        form.dataset.refused = session.expired ? "expired" : "session";
        say(form, session.parts);
        return;
      }
      if (phone) {
        const verdict = await phone.check();
        if (verdict && verdict.valid === false) {
          phone.field.focus();
          return;
        }
      }
      delete form.dataset.refused;
      cleared = true;
      if (submitter && submitter.form === form) form.requestSubmit(submitter);
      else form.requestSubmit();
    });
    return sentBack;
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const form = target && target.form;
    if ((event.ctrlKey || event.metaKey) && (event.key === "Enter" || event.key === "s" ||
        event.key === "S")) {
      const chosen = (form && form.dataset.keep) ? form
        : document.querySelector("form#registration[data-keep]");
      if (!chosen) return;
      event.preventDefault();
      chosen.requestSubmit(chosen.querySelector(".form-actions button[type=submit]") || undefined);
      return;
    }
    // Enter in a one-line field never submits the whole form (it would be saved as it
    // stands, 稍后决定 and all): it moves on, as Tab does. Not while an IME is composing.
    if (event.key !== "Enter" || event.isComposing || event.ctrlKey || event.metaKey ||
        event.altKey || !form || !form.dataset.keep || target.tagName !== "INPUT" ||
        !ONE_LINE.has(target.type) || target.id === "kb-query") return;
    event.preventDefault();
    const next = nextField(form, target);
    if (next) next.focus();
  });

  document.addEventListener("DOMContentLoaded", () => {
    // The page a save leads to says it was saved: that form's draft is done with.
    const store = storage();
    if (store && (document.getElementById("saved") || document.getElementById("corrected"))) {
      const key = store.getItem(SUBMITTED);
      if (key) dropDraft(key);
      store.removeItem(SUBMITTED);
    }
    const forms = Array.from(document.querySelectorAll("form[data-keep]"));
    let focused = false;
    for (const form of forms) {
      const sentBack = setUpForm(form);
      if (focused || (form.closest("details") && !form.closest("details").open)) continue;
      const first = sentBack
        ? form.querySelector(".field.invalid input, .field.invalid select, .field.invalid textarea")
        : form.querySelector("input:not([type=hidden]), select, textarea");
      if (first) { first.focus({ preventScroll: !sentBack }); focused = true; }
    }
    // Logging out on purpose leaves no draft behind in this tab.
    const logout = document.querySelector('form[action="/logout"]');
    if (logout && store) {
      logout.addEventListener("submit", () => {
        for (const name of Object.keys(store)) if (name.startsWith(PREFIX)) store.removeItem(name);
      });
    }
  });
})();
