// Countries: flags from the alpha-2 code, the ISO names statusd prints (to read /api's SMS and
// MMS rows), names to show from Intl.DisplayNames (CLDR) in the page's language, and the
// picker's search over the code and the names in every language of the page.
"use strict";
(function (ns) {
  const { i18n } = ns;
  const byCode = new Map();
  const byName = new Map();

  /** Lower case without diacritics, so "turkiye" finds "Türkiye" and "reunion" "Réunion". */
  function fold(text) {
    return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  for (const [code, name, common] of ns.COUNTRY_TABLE) {
    byCode.set(code, { code, name, common, folded: null, langs: "" });
    byName.set(name, code);
  }

  /** The folded names an entry is found by: ISO's, then CLDR's in every page language. */
  function folded(entry) {
    const langs = i18n.languages().join();
    if (entry.langs !== langs) {
      const aliases = [entry.name, entry.common];
      for (const lang of i18n.languages()) aliases.push(i18n.nameIn("region", entry.code, lang));
      entry.folded = [...new Set(aliases.filter(Boolean).map(fold))];
      entry.langs = langs;
    }
    return entry.folded;
  }

  /** The regional-indicator emoji of an alpha-2 code ("RU" → 🇷🇺); "" for anything else. */
  function flag(code) {
    if (!/^[A-Z]{2}$/.test(code)) return "";
    return String.fromCodePoint(...[...code].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
  }

  /** The ISO 3166-1 name statusd uses in /api, or the code itself when unknown. */
  function isoName(code) {
    const entry = byCode.get(code);
    return entry ? entry.name : code;
  }

  /** The country's name in the page's language (CLDR), else its ISO name. */
  function nameOf(code) {
    return i18n.nameIn("region", code) || isoName(code);
  }

  /** The alpha-2 code of an ISO name as /api prints it in SMS and MMS rows, or null. */
  function codeOfName(name) {
    return byName.get(name) || null;
  }

  function isCountry(code) {
    return byCode.has(code);
  }

  /** How well `entry` matches the folded query: lower is better, null for no match. */
  function rank(entry, query) {
    if (fold(entry.code) === query) return 0;
    let best = null;
    for (const alias of folded(entry)) {
      let r = null;
      if (alias.startsWith(query)) r = 1;
      else if (alias.split(/[\s,()'-]+/).some((word) => word.startsWith(query))) r = 2;
      else if (alias.includes(query)) r = 3;
      if (r !== null && (best === null || r < best)) best = r;
    }
    return best;
  }

  /**
   * Countries matching `query` by name, common name or code, best first; countries with
   * data (`withData`, a Set of codes) before the others at equal rank. An empty query
   * lists only the countries with data, by name.
   */
  function search(query, withData, limit) {
    const q = fold(query.trim());
    const hits = [];
    for (const entry of byCode.values()) {
      const has = withData.has(entry.code);
      if (!q) {
        if (has) hits.push({ entry, r: 0, has });
        continue;
      }
      const r = rank(entry, q);
      if (r !== null) hits.push({ entry, r, has });
    }
    const named = hits.map((hit) => ({ ...hit, name: nameOf(hit.entry.code) }));
    named.sort(
      (a, b) =>
        a.r - b.r || Number(b.has) - Number(a.has) || a.name.localeCompare(b.name, i18n.lang()),
    );
    return named.slice(0, limit || 50).map(({ entry, name, has }) => ({
      code: entry.code,
      name,
      hasData: has,
    }));
  }

  /** The first region of the browser's languages that is a country ("de-AT" → "AT"), or null. */
  function localeRegion(languages) {
    for (const tag of languages || []) {
      let region = null;
      try {
        region = new Intl.Locale(tag).region || null;
      } catch (err) {
        if (!(err instanceof RangeError || err instanceof TypeError)) throw err;
        const m = /[-_]([A-Za-z]{2})(?:[-_]|$)/.exec(String(tag));
        region = m ? m[1].toUpperCase() : null;
      }
      if (region && byCode.has(region)) return region;
    }
    return null;
  }

  ns.geo = { flag, nameOf, isoName, codeOfName, isCountry, search, localeRegion, fold };
})((window.StatusPage = window.StatusPage || {}));
