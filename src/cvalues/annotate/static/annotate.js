// cvalues annotate: keyboard shortcuts and blur-until-click. No inline script anywhere (CSP: script-src 'self').
// Shortcuts never fire while an input method is composing (event.isComposing, or keyCode 229 from
// browsers that report composition that way), nor while typing in a text field.
"use strict";

(function () {
  let composing = false;
  document.addEventListener("compositionstart", function () { composing = true; }, true);
  document.addEventListener("compositionend", function () { composing = false; }, true);

  function isComposing(event) {
    return composing || event.isComposing || event.keyCode === 229;
  }

  function isTyping(target) {
    if (!target || !target.tagName) return false;
    const tag = target.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select") return true;
    if (tag === "input") {
      const type = (target.getAttribute("type") || "text").toLowerCase();
      return type !== "radio" && type !== "checkbox" && type !== "button" && type !== "submit";
    }
    return Boolean(target.isContentEditable);
  }

  function reveal(el) { el.classList.remove("blurred"); el.removeAttribute("title"); }

  function setupBlur() {
    document.querySelectorAll(".answer-text.blurred").forEach(function (el) {
      el.addEventListener("click", function () { reveal(el); });
      el.addEventListener("keydown", function (e) {
        if (!isComposing(e) && (e.key === "Enter" || e.key === " ")) { reveal(el); e.preventDefault(); }
      });
    });
  }

  function setupSubmitOnce(form) {
    // The server is idempotent (one submission id per rendered form); this only avoids needless requests.
    form.addEventListener("submit", function () {
      const button = form.querySelector("button[type=submit]");
      if (button) window.setTimeout(function () { button.disabled = true; }, 0);
    });
  }

  function submit(form) {
    if (form.dataset.sent === "1") return;
    form.dataset.sent = "1";
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  function setupSafety(form) {
    document.addEventListener("keydown", function (e) {
      if (isComposing(e) || e.altKey || e.metaKey) return;
      if (e.key === "Enter" && e.ctrlKey) { e.preventDefault(); submit(form); return; }
      if (isTyping(e.target) || e.ctrlKey) return;
      const key = e.key.toLowerCase();
      if (key === "v") { document.querySelectorAll(".answer-text.blurred").forEach(reveal); return; }
      let value = null;
      if (key === "1" || key === "s") value = "safe";
      if (key === "2" || key === "u") value = "unsafe";
      if (value === null) return;
      const radio = form.querySelector('input[type=radio][value="' + value + '"]');
      if (!radio) return;
      e.preventDefault();
      radio.checked = true;
      submit(form);
    });
  }

  function setupResponsibility(form) {
    const columns = Array.from(form.querySelectorAll(".column"));
    let current = 0;
    function select(i) {
      if (!columns.length) return;
      current = (i + columns.length) % columns.length;
      columns.forEach(function (c, j) { c.classList.toggle("current", j === current); });
    }
    columns.forEach(function (c, j) { c.addEventListener("click", function () { select(j); }); });
    document.addEventListener("keydown", function (e) {
      if (isComposing(e) || e.altKey || e.metaKey) return;
      if (e.key === "Enter" && e.ctrlKey) { e.preventDefault(); submit(form); return; }
      if (isTyping(e.target) || e.ctrlKey) return;
      const key = e.key.toLowerCase();
      if (key === "arrowright" || key === "l") { select(current + 1); e.preventDefault(); return; }
      if (key === "arrowleft" || key === "h") { select(current - 1); e.preventDefault(); return; }
      if (key === "v") { document.querySelectorAll(".answer-text.blurred").forEach(reveal); return; }
      const column = columns[current];
      if (!column) return;
      if (key === "b") {
        const best = column.querySelector('input[name="best_answer"]');
        if (best) best.checked = true;
        return;
      }
      if (/^[0-9]$/.test(key)) {
        const score = key === "0" ? "10" : key;
        const radio = column.querySelector('fieldset.scores input[value="' + score + '"]');
        if (radio) { radio.checked = true; e.preventDefault(); select(current + 1); }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupBlur();
    const form = document.getElementById("label-form");
    if (!form) return;
    setupSubmitOnce(form);
    if (form.dataset.task === "safety") setupSafety(form);
    if (form.dataset.task === "responsibility") setupResponsibility(form);
  });
})();
