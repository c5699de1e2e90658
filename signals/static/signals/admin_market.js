/* Keeps the signal admin's market panel current (signals/admin_market.py): it asks the
   admin-only market/ view for the panel again every few seconds, and at once when staff pick
   another option or change the trade's fields. No library: the panel comes rendered. */
(function () {
  "use strict";
  const panel = document.getElementById("signal-market");
  if (!panel) {
    return;
  }
  const FIELDS = ["signal_type", "entry_price", "target_price", "stop_loss", "quantity"];
  const seconds = Number(panel.dataset.refreshSeconds) || 3;
  let pending = null;

  function query() {
    const params = new URLSearchParams();
    if (panel.dataset.signal) {
      params.set("signal", panel.dataset.signal);
    } else {
      const option = document.getElementById("id_instrument");
      if (option && option.value) {
        params.set("instrument", option.value);
      }
    }
    for (const name of FIELDS) {
      const field = document.getElementById("id_" + name);
      if (field && field.value !== "") {
        params.set(name, field.value);
      }
    }
    return params.toString();
  }

  async function refresh() {
    if (pending) {
      pending.abort();
    }
    pending = new AbortController();
    try {
      const response = await fetch(panel.dataset.url + "?" + query(), {
        credentials: "same-origin",
        signal: pending.signal,
      });
      if (response.ok) {
        panel.innerHTML = await response.text();
        panel.dataset.refreshed = String(Date.now());
      }
    } catch (error) {
      if (error.name !== "AbortError") {
        console.warn("The market panel could not be refreshed:", error);
      }
    }
  }

  for (const name of FIELDS) {
    const field = document.getElementById("id_" + name);
    if (field) {
      field.addEventListener("change", refresh);
    }
  }
  // The option's autocomplete is select2, which announces a pick through jQuery only.
  if (window.django && window.django.jQuery) {
    window.django.jQuery("#id_instrument").on("change", refresh);
  }
  window.setInterval(refresh, seconds * 1000);
})();
