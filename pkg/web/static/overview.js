// overview.js: keeps the overview current without a reload, and pauses or resumes websites.
"use strict";

(() => {
  const live = document.getElementById("live");
  if (!live) return;

  // The server renders ?partial=1 as a page whose body is the live part alone.
  Vigil.poll(() => Vigil.swapLive("live", live.dataset.live), 10000);

  live.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button.toggle");
    if (!btn) return;
    const enable = btn.dataset.enabled !== "true";
    btn.disabled = true;
    try {
      await Vigil.api("PATCH", "/websites/" + encodeURIComponent(btn.dataset.id), { enabled: enable });
      await Vigil.swapLive("live", live.dataset.live, true);
    } catch (e) {
      btn.disabled = false;
      window.alert(e.message);
    }
  });
})();
