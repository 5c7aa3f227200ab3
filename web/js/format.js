// Formatting of times, ages and numbers for display; pure.
"use strict";
(function (ns) {
  const clock = new Intl.DateTimeFormat(undefined, {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const dayClock = new Intl.DateTimeFormat(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });

  /** "14:03:05" today, "Nov 24, 14:03" on another day. */
  function time(date, now) {
    const today = (now || new Date()).toDateString() === date.toDateString();
    return today ? clock.format(date) : dayClock.format(date);
  }

  /** "just now", "12 s ago", "5 min ago", "3 h ago", "2 days ago". */
  function ago(date, now) {
    const s = Math.max(0, Math.round(((now || new Date()) - date) / 1000));
    if (s < 5) return "just now";
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 172800) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " days ago";
  }

  /** A fraction as a percentage with up to two decimals: 0.99951 → "99.95 %". */
  function percent(fraction) {
    const p = Math.floor(fraction * 10000) / 100;
    return p.toFixed(p === 100 ? 0 : 2) + " %";
  }

  /** Seconds as "1 h 5 min", "4 min", "30 s". */
  function duration(seconds) {
    const s = Math.round(seconds);
    if (s < 60) return s + " s";
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return h ? `${h} h ${m} min` : `${m} min`;
  }

  ns.format = { time, ago, percent, duration };
})((window.StatusPage = window.StatusPage || {}));
