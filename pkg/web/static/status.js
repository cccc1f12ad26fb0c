// status.js: a public status page refreshes itself every 30 seconds (its cache lifetime),
// without a reload. The page works without it.
"use strict";

(() => {
  const live = document.getElementById("live");
  if (!live) return;
  const url = location.pathname + "?partial=1";
  let timer = null;
  async function refresh() {
    try {
      const res = await fetch(url, { credentials: "omit" });
      if (res.ok) {
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        live.replaceChildren(...Array.from(doc.body.childNodes).map((n) => document.adoptNode(n)));
      }
    } catch (e) { /* try again next time */ }
    timer = setTimeout(refresh, 30000);
  }
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) { clearTimeout(timer); timer = null; } else if (!timer) refresh();
  });
  timer = setTimeout(refresh, 30000);
})();
