/*
 * The portal pages (maps/templates): copy buttons for feed URLs and embed snippets, and the
 * theme page's time slider, which reloads the embedded map as of a past load (?datetime=...).
 */
(() => {
  "use strict";

  function announce(text) {
    const status = document.getElementById("copy-status");
    if (status) status.textContent = text;
  }

  async function copy(button) {
    const input = document.getElementById(button.dataset.copy);
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
    } catch {
      document.execCommand("copy"); // plain http on an intranet has no Clipboard API
    }
    button.textContent = "Copied";
    announce(`Copied ${input.labels[0]?.textContent ?? "the text"}`);
    setTimeout(() => {
      button.textContent = "Copy";
    }, 2000);
  }

  function setUpSlider(form) {
    const slider = form.querySelector("input[type=range]");
    const output = form.querySelector("output");
    const frame = document.getElementById(form.dataset.map);
    const instants = JSON.parse(slider.dataset.instants);
    const labels = JSON.parse(slider.dataset.labels);
    const latest = instants.length - 1;
    const describe = (i) => (i === latest ? `${labels[i]} (latest)` : labels[i]);
    slider.addEventListener("input", () => {
      output.textContent = describe(Number(slider.value));
    });
    slider.addEventListener("change", () => {
      const i = Number(slider.value);
      slider.setAttribute("aria-valuetext", describe(i));
      const url = new URL(frame.dataset.src, window.location.href);
      if (i !== latest) url.searchParams.set("datetime", instants[i]);
      frame.src = url.pathname + url.search;
    });
    form.addEventListener("submit", (event) => event.preventDefault());
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const button of document.querySelectorAll("button[data-copy]")) {
      button.addEventListener("click", () => copy(button));
    }
    for (const form of document.querySelectorAll("form.time-slider")) {
      setUpSlider(form);
    }
  });
})();
