// The page's words (SPEC §10): one catalog per language from statusd (GET i18n/page.json,
// the page.* entries of statusd/i18n/catalogs/<lang>.json), CLDR plurals, numbers, dates
// and country names from Intl. The language: ?lang=, else the visitor's last choice, else
// the browser's languages, else English.
"use strict";
(function (ns) {
  const STORE_KEY = "statusd.lang";
  const TIMEOUT_MS = 8000;
  const state = { lang: "en", locale: "en", languages: ["en"], entries: {}, rules: null };
  const made = new Map(); // Intl formatters of the current locale

  /** The browser's own tag for `lang` ("en-GB" for en), so dates and numbers follow the
   *  visitor's conventions in the page's language; else `lang` itself. */
  function localeFor(lang) {
    const browser = navigator.languages || [navigator.language];
    const own = browser.find((tag) => String(tag).toLowerCase().split("-")[0] === lang);
    return own || lang;
  }

  /** ?lang=, the stored choice, then the browser's languages: what to ask statusd for. */
  function wanted(href, stored, browser) {
    const asked = new URL(href).searchParams.get("lang");
    return [asked, stored, ...(browser || [])].filter((tag) => typeof tag === "string" && tag);
  }

  function stored() {
    try {
      return window.localStorage.getItem(STORE_KEY);
    } catch (err) {
      return null; // storage off (privacy settings, file://): the choice lasts the visit
    }
  }

  /** GET the catalog of the first of `want` statusd has (English when none). */
  async function fetchCatalog(base, want) {
    const url = base + "i18n/page.json?want=" + encodeURIComponent(want.join(","));
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      const response = await fetch(url, { credentials: "omit", signal: controller.signal });
      if (!response.ok) throw new ns.api.Unreachable("HTTP " + response.status);
      return await response.json();
    } catch (err) {
      if (err instanceof TypeError || err instanceof SyntaxError || err.name === "AbortError") {
        throw new ns.api.Unreachable(String(err.message || err));
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  function use(catalog) {
    state.lang = catalog.lang;
    state.locale = localeFor(catalog.lang);
    state.languages = catalog.languages;
    state.entries = catalog.entries;
    state.rules = new Intl.PluralRules(state.locale);
    made.clear();
    document.documentElement.lang = catalog.lang;
  }

  /** Load the catalog of the first language of `want` (see wanted()); throws Unreachable. */
  async function load(base, want) {
    use(await fetchCatalog(base, want));
  }

  /** Switch to `lang`, remember it, and say so in the URL (?lang= wins at the next visit). */
  async function choose(base, lang) {
    await load(base, [lang]);
    try {
      window.localStorage.setItem(STORE_KEY, state.lang);
    } catch (err) {
      // storage off: the URL keeps the choice
    }
    const url = new URL(window.location.href);
    url.searchParams.set("lang", state.lang);
    window.history.replaceState(window.history.state, "", url.href);
  }

  /** Split `template` at its {fields}: a list of strings and the fields' values (nodes too). */
  function parts(template, fields) {
    const out = [];
    let last = 0;
    template.replace(/\{(\w+)\}/g, (match, name, at) => {
      out.push(template.slice(last, at));
      out.push(fields && name in fields ? fields[name] : match);
      last = at + match.length;
      return match;
    });
    out.push(template.slice(last));
    return out.filter((part) => part !== "");
  }

  function entry(key) {
    const value = state.entries[key];
    if (value === undefined) throw new Error("no catalog entry " + key);
    return value;
  }

  function pluralTemplate(key, count) {
    const forms = entry(key);
    return forms[state.rules.select(count)] || forms.other;
  }

  /** The entry `key` as a list of text and nodes, for dom.fill / dom.h. */
  function tparts(key, fields) {
    return parts(entry(key), fields);
  }

  /** The entry `key` as text, its fields filled in. */
  function t(key, fields) {
    return tparts(key, fields).join("");
  }

  /** The plural form of `key` for `count` ({count} written the language's way). */
  function tp(key, count, fields) {
    const all = Object.assign({ count: number(count) }, fields);
    return parts(pluralTemplate(key, count), all).join("");
  }

  function formatter(kind, options) {
    const id = kind + JSON.stringify(options);
    if (!made.has(id)) made.set(id, new Intl[kind](state.locale, options));
    return made.get(id);
  }

  function number(value, options) {
    return formatter("NumberFormat", options || {}).format(value);
  }

  /** Dates and times in the visitor's zone and the page's language. */
  function date(value, options) {
    return formatter("DateTimeFormat", options).format(value);
  }

  function dateParts(value, options) {
    return formatter("DateTimeFormat", options).formatToParts(value);
  }

  function list(items) {
    return formatter("ListFormat", { type: "conjunction" }).format(items);
  }

  const names = new Map();
  /** Intl.DisplayNames of `type` in `lang` (cached), or null where the browser has none. */
  function displayNames(lang, type) {
    const id = lang + "/" + type;
    if (!names.has(id)) {
      let made = null;
      try {
        made = new Intl.DisplayNames([lang], { type, fallback: "none" });
      } catch (err) {
        if (!(err instanceof RangeError || err instanceof TypeError)) throw err;
      }
      names.set(id, made);
    }
    return names.get(id);
  }

  /** The name of a region or a language in `lang` (the page's by default), or null. */
  function nameIn(type, code, lang) {
    const made = displayNames(lang || state.lang, type);
    return (made && made.of(code)) || null;
  }

  /** Translate the page's own markup: [data-i18n] text (its [data-slot] children stand for
   *  the template's fields and keep their place) and [data-i18n-attr] ("name=key …"). */
  function translate(root) {
    for (const el of root.querySelectorAll("[data-i18n-attr]")) {
      for (const pair of el.dataset.i18nAttr.split(" ")) {
        const [name, key] = pair.split("=");
        el.setAttribute(name, t(key));
      }
    }
    for (const el of root.querySelectorAll("[data-i18n]")) {
      const slots = {};
      for (const child of el.querySelectorAll(":scope > [data-slot]")) {
        slots[child.dataset.slot] = child;
      }
      el.replaceChildren(...tparts(el.dataset.i18n, slots));
    }
  }

  ns.i18n = {
    translate,
    wanted,
    stored,
    load,
    choose,
    parts,
    t,
    tp,
    tparts,
    number,
    date,
    dateParts,
    list,
    nameIn,
    lang: () => state.lang,
    languages: () => state.languages.slice(),
  };
})((window.StatusPage = window.StatusPage || {}));
