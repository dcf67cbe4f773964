// The driver's page speaks the phone's language: one sentence table per language (assets/lang-XX.json),
// English as the fallback. A reason code the table does not know shows the server's own sentence.
"use strict";

const I18n = (() => {
  const LANGUAGES = ["en", "es", "pt"];
  const KEY = "driver-routing.language";
  let table = {};
  let english = {};
  let language = "en";

  function fromPhone() {
    const wanted = [localStorage.getItem(KEY), ...(navigator.languages || [navigator.language])].filter(Boolean);
    for (const tag of wanted) {
      const base = String(tag).toLowerCase().split("-")[0];
      if (LANGUAGES.includes(base)) return base;
    }
    return "en";
  }

  async function load(code) {
    const answer = await fetch(`assets/lang-${code}.json`);
    if (!answer.ok) throw new Error(`no sentences for ${code}`);
    return answer.json();
  }

  async function use(code, remember = false) {
    if (!english.take) english = await load("en");
    table = code === "en" ? english : await load(code).catch(() => english);
    language = table === english ? "en" : code;
    if (remember) localStorage.setItem(KEY, language);
    document.documentElement.lang = language;
    apply(document);
    return language;
  }

  function fill(text, values) {
    return String(text).replace(/\{(\w+)\}/g, (_, name) => (values[name] ?? ""));
  }

  // A sentence by key, in the page's language (else English), with {name} filled in.
  function t(key, values = {}) { return fill(table[key] ?? english[key] ?? key, values); }

  // The sentence for a rejection's or a review's reason code, else the server's (English) message.
  function reason(kind, code, serverMessage) {
    return (table[kind] || {})[code] || serverMessage || (english[kind] || {})[code] || "";
  }

  // Static text: elements name their sentence with data-t (text) or data-t-alt / data-t-label.
  function apply(root) {
    for (const node of root.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
    for (const node of root.querySelectorAll("[data-t-alt]")) node.alt = t(node.dataset.tAlt);
    for (const node of root.querySelectorAll("[data-t-label]")) node.setAttribute("aria-label", t(node.dataset.tLabel));
    if (table.page_title) document.title = table.page_title;
  }

  return { LANGUAGES, fromPhone, use, t, reason, apply, get language() { return language; } };
})();
