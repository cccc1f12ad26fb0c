// app.js: what every dashboard page shares. The REST API is called with the session cookie
// and the session's CSRF token in X-CSRF-Token; nothing here writes HTML from data: text goes
// through textContent, so a website named <img onerror=...> stays text.
"use strict";

const Vigil = (() => {
  const csrf = () => {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  };

  // APIError carries the API's {"error":{"code","message","fields"}} body.
  class APIError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      super(e.message || "Request failed (" + status + ")");
      this.status = status;
      this.code = e.code || "";
      this.fields = e.fields || {};
    }
  }

  async function api(method, path, body) {
    const opts = { method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET" && method !== "HEAD") opts.headers["X-CSRF-Token"] = csrf();
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    if (res.status === 401) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new APIError(401, null);
    }
    if (res.status === 204) return null;
    let data = null;
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = null; }
    }
    if (!res.ok) throw new APIError(res.status, data);
    return data;
  }

  // el builds an element: el("td", {class: "num"}, "text", childNode...).
  function el(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") n.className = v;
      else if (k === "text") n.textContent = v;
      else n.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      n.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return n;
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    const d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600);
    const m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + m + "m";
    if (m) return m + "m " + s + "s";
    return s + "s";
  }

  function datetime(iso) {
    const t = new Date(iso);
    if (isNaN(t)) return "–";
    return t.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  function ms(v) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    return v >= 1000 ? (v / 1000).toFixed(2) + " s" : Math.round(v) + " ms";
  }

  // showErrors puts each of the API's field errors next to its field: an element with
  // data-error-for="<field>" in form. Errors on fields the form lacks go to its alert box.
  function showErrors(form, err) {
    form.querySelectorAll("[data-error-for]").forEach((n) => { n.textContent = ""; });
    form.querySelectorAll(".field.has-error").forEach((n) => n.classList.remove("has-error"));
    const alert = form.querySelector(".alert");
    const rest = [];
    for (const [field, msg] of Object.entries((err && err.fields) || {})) {
      const base = field.split(/[.[]/)[0];
      const slot = form.querySelector('[data-error-for="' + CSS.escape(base) + '"]');
      if (slot) {
        slot.textContent = slot.textContent ? slot.textContent + "; " + msg : msg;
        const f = slot.closest(".field");
        if (f) f.classList.add("has-error");
      } else {
        rest.push(field + ": " + msg);
      }
    }
    if (alert) {
      alert.textContent = err ? (rest.length ? rest.join("; ") : (Object.keys(err.fields || {}).length ? "Please fix the fields marked below." : err.message)) : "";
    }
    const first = form.querySelector(".field.has-error input, .field.has-error textarea, .field.has-error select");
    if (first) first.focus();
  }

  // poll calls fn now and then every ms milliseconds while the tab is visible.
  function poll(fn, every) {
    let timer = null;
    const tick = async () => {
      try { await fn(); } catch (e) { /* the next tick tries again */ }
      timer = setTimeout(tick, every);
    };
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) { clearTimeout(timer); timer = null; }
      else if (!timer) tick();
    });
    timer = setTimeout(tick, every);
  }

  // swapLive replaces the element #id with the same element from the HTML at url. DOMParser
  // never runs scripts, and the server escaped every user string.
  async function swapLive(id, url, force) {
    const res = await fetch(url, { credentials: "same-origin" });
    if (res.status === 401) { location.reload(); return; }
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const fresh = doc.getElementById(id) || doc.body;
    const cur = document.getElementById(id);
    if (!cur || !fresh) return;
    if (!force && cur.contains(document.activeElement) && document.activeElement !== document.body) return;
    cur.replaceChildren(...Array.from(fresh.childNodes).map((n) => document.adoptNode(n)));
    document.dispatchEvent(new CustomEvent("vigil:live", { detail: { id } }));
  }

  return { api, el, duration, datetime, ms, showErrors, poll, swapLive, APIError };
})();
