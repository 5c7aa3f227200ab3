// Formatting of times, ages and numbers for display, in the page's language and the
// visitor's time zone (named: "14:03:05 MSK"); pure apart from the catalog (i18n.js).
"use strict";
(function (ns) {
  const { i18n } = ns;
  const CLOCK = { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" };
  const DAY_CLOCK = {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  };

  /** "14:03:05 MSK" today, "Nov 24, 14:03 MSK" on another day. */
  function time(date, now) {
    const today = (now || new Date()).toDateString() === date.toDateString();
    return i18n.date(date, today ? CLOCK : DAY_CLOCK);
  }

  /** "just now", "12 s ago", "5 min ago", "3 h ago", "2 days ago". */
  function ago(date, now) {
    const s = Math.max(0, Math.round(((now || new Date()) - date) / 1000));
    if (s < 5) return i18n.t("page.ago.now");
    if (s < 60) return i18n.t("page.ago.seconds", { count: i18n.number(s) });
    if (s < 3600) return i18n.t("page.ago.minutes", { count: i18n.number(Math.floor(s / 60)) });
    if (s < 172800) return i18n.t("page.ago.hours", { count: i18n.number(Math.floor(s / 3600)) });
    return i18n.tp("page.ago.days", Math.floor(s / 86400));
  }

  /** A fraction as a percentage with up to two decimals: 0.99951 → "99.95 %". */
  function percent(fraction) {
    const p = Math.floor(fraction * 10000) / 100;
    const digits = p === 100 ? 0 : 2;
    const value = i18n.number(p, { minimumFractionDigits: digits, maximumFractionDigits: digits });
    return i18n.t("page.unit.percent", { value });
  }

  /** A measured value with its unit: unit("ms", 120) → "120 ms". */
  function unit(name, value) {
    const text = typeof value === "number" ? i18n.number(value) : String(value);
    return i18n.t("page.unit." + name, { value: text });
  }

  /** Seconds as "1 h 5 min", "4 min", "30 s". */
  function duration(seconds) {
    const s = Math.round(seconds);
    if (s < 60) return i18n.t("page.duration.seconds", { seconds: i18n.number(s) });
    const hours = Math.floor(s / 3600);
    const minutes = i18n.number(Math.floor((s % 3600) / 60));
    return hours
      ? i18n.t("page.duration.hours", { hours: i18n.number(hours), minutes })
      : i18n.t("page.duration.minutes", { minutes });
  }

  ns.format = { time, ago, percent, unit, duration };
})((window.StatusPage = window.StatusPage || {}));
