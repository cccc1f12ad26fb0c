// manage.js: the management forms. Each form is sent as JSON to the REST API; a 422 puts the
// API's message next to each field it names.
"use strict";

(() => {
  const { api, el, showErrors } = Vigil;

  // formValues reads a form into the API's JSON shape: data-type="int" fields become numbers,
  // "lines" become arrays of non-empty lines, "bool" checkboxes booleans, and repeated
  // checkboxes (regions) arrays of the checked values.
  function formValues(form) {
    const out = {};
    const arrays = new Set();
    for (const f of form.elements) {
      if (!f.name || f.disabled) continue;
      const type = f.dataset.type;
      if (f.type === "checkbox" && type === "bool") { out[f.name] = f.checked; continue; }
      if (f.type === "checkbox") {
        if (!arrays.has(f.name)) { arrays.add(f.name); out[f.name] = []; }
        if (f.checked) out[f.name].push(f.value);
        continue;
      }
      if (type === "int") {
        if (f.value.trim() === "") continue;
        const n = Number(f.value);
        out[f.name] = Number.isInteger(n) ? n : f.value;
        continue;
      }
      if (type === "lines") {
        out[f.name] = f.value.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
        continue;
      }
      out[f.name] = f.value.trim();
    }
    return out;
  }

  async function submit(form, body, done) {
    const btn = form.querySelector('button[type="submit"]');
    if (btn) btn.disabled = true;
    try {
      const res = await api(form.dataset.method, form.dataset.action, body);
      showErrors(form, null);
      done(res);
    } catch (e) {
      showErrors(form, e);
    } finally {
      if (btn) btn.disabled = false;
    }
  }

  function wireDelete(btn, then) {
    btn.addEventListener("click", async () => {
      if (!window.confirm("Delete " + btn.dataset.name + "? This cannot be undone.")) return;
      btn.disabled = true;
      try {
        await api("DELETE", btn.dataset.action);
        then();
      } catch (e) {
        btn.disabled = false;
        window.alert(e.message);
      }
    });
  }

  const website = document.getElementById("website-form");
  if (website) {
    website.addEventListener("submit", (ev) => {
      ev.preventDefault();
      submit(website, formValues(website), (w) => { location.href = "/dashboard/websites/" + encodeURIComponent(w.id); });
    });
    const del = document.getElementById("delete");
    if (del) wireDelete(del, () => { location.href = "/dashboard"; });
  }

  const region = document.getElementById("region-form");
  if (region) {
    region.addEventListener("submit", (ev) => {
      ev.preventDefault();
      submit(region, formValues(region), () => location.reload());
    });
    document.querySelectorAll(".delete-region").forEach((b) => wireDelete(b, () => location.reload()));
  }

  const page = document.getElementById("status-page-form");
  if (!page) return;
  const groups = document.getElementById("groups");

  function chip(id, name) {
    return el("li", { "data-id": id }, el("span", {}, name),
      el("button", { type: "button", class: "g-up", "aria-label": "Move up" }, "↑"),
      el("button", { type: "button", class: "g-remove", "aria-label": "Remove" }, "×"));
  }

  function groupRow(name) {
    return el("div", { class: "card group-row" },
      el("div", { class: "field" }, el("label", {}, "Group name ", el("input", { type: "text", class: "g-name", value: name, maxlength: "100" }))),
      el("ul", { class: "chips g-sites" }),
      el("div", { class: "picker" },
        el("input", { type: "search", class: "g-search", placeholder: "Add a website: type its name", autocomplete: "off", "aria-label": "Add a website" }),
        el("ul", { class: "picker-results" })),
      el("div", { class: "actions" }, el("button", { type: "button", class: "btn small g-remove-group" }, "Remove group")));
  }

  document.getElementById("add-group").addEventListener("click", () => {
    const row = groupRow("");
    groups.append(row);
    row.querySelector(".g-name").focus();
  });

  groups.addEventListener("click", (ev) => {
    const t = ev.target;
    if (t.closest(".g-remove-group")) { t.closest(".group-row").remove(); return; }
    const li = t.closest(".g-sites li");
    if (li && t.closest(".g-remove")) { li.remove(); return; }
    if (li && t.closest(".g-up") && li.previousElementSibling) { li.parentNode.insertBefore(li, li.previousElementSibling); return; }
    const pick = t.closest(".picker-results button");
    if (pick) {
      const row = pick.closest(".group-row");
      const list = row.querySelector(".g-sites");
      if (!list.querySelector('[data-id="' + CSS.escape(pick.dataset.id) + '"]')) list.append(chip(pick.dataset.id, pick.dataset.name));
      row.querySelector(".picker-results").replaceChildren();
      const search = row.querySelector(".g-search");
      search.value = "";
      search.focus();
    }
  });

  let searchTimer = null;
  groups.addEventListener("input", (ev) => {
    const input = ev.target.closest(".g-search");
    if (!input) return;
    clearTimeout(searchTimer);
    searchTimer = setTimeout(async () => {
      const results = input.closest(".picker").querySelector(".picker-results");
      const q = input.value.trim();
      if (!q) { results.replaceChildren(); return; }
      try {
        const res = await api("GET", "/websites?limit=10&q=" + encodeURIComponent(q));
        results.replaceChildren(...(res.items || []).map((w) =>
          el("li", {}, el("button", { type: "button", "data-id": w.id, "data-name": w.name }, w.name))));
        if (!(res.items || []).length) results.append(el("li", { class: "muted" }, "No website matches."));
      } catch (e) {
        results.replaceChildren(el("li", { class: "muted" }, e.message));
      }
    }, 200);
  });

  page.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = formValues(page);
    body.groups = Array.from(groups.querySelectorAll(".group-row")).map((row) => ({
      name: row.querySelector(".g-name").value.trim(),
      website_ids: Array.from(row.querySelectorAll(".g-sites li")).map((li) => li.dataset.id),
    }));
    submit(page, body, () => { location.href = "/dashboard/status-pages"; });
  });
  const del = document.getElementById("delete");
  if (del) wireDelete(del, () => { location.href = "/dashboard/status-pages"; });
})();
