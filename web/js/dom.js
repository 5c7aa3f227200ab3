// DOM helpers: every element is built with createElement and every piece of data goes in
// as a text node, so nothing from a source can ever become markup.
"use strict";
(function (ns) {
  const SVG_NS = "http://www.w3.org/2000/svg";

  /** Append children: strings and numbers become text nodes; null/false are skipped. */
  function append(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(node, child);
      else if (typeof child === "string" || typeof child === "number") {
        node.appendChild(document.createTextNode(String(child)));
      } else node.appendChild(child);
    }
    return node;
  }

  /** Set attributes (never event handlers or inner HTML); `class` takes a string or a list. */
  function setAttrs(node, attrs) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) throw new Error("no inline handlers: " + key);
      if (key === "class" && Array.isArray(value)) {
        node.setAttribute("class", value.filter(Boolean).join(" "));
      } else node.setAttribute(key, value === true ? "" : String(value));
    }
    return node;
  }

  /** An HTML element: h("td", {class: "num"}, "42"). */
  function h(tag, attrs, ...children) {
    return append(setAttrs(document.createElement(tag), attrs), children);
  }

  /** An SVG element, same calling convention as h(). */
  function s(tag, attrs, ...children) {
    return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
  }

  /** Replace every child of `node`. */
  function fill(node, ...children) {
    node.replaceChildren();
    return append(node, children);
  }

  function byId(id) {
    const node = document.getElementById(id);
    if (!node) throw new Error("missing element #" + id);
    return node;
  }

  let uid = 0;
  /** A document-unique id for aria-describedby / aria-labelledby links. */
  function nextId(prefix) {
    uid += 1;
    return prefix + "-" + uid;
  }

  /** Copy a text field's value to the clipboard, else select it for Ctrl+C; `said(copied)`. */
  function copyValue(field, said) {
    const fallback = () => {
      field.select();
      said(false);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(() => said(true), fallback);
    } else fallback();
  }

  const revealed = new Set();
  /** Once per prefix: scroll to and focus the element the URL's #<prefix>… names, if drawn. */
  function reveal(prefix) {
    const id = window.location.hash.slice(1);
    const target = id.startsWith(prefix) && !revealed.has(prefix) && document.getElementById(id);
    if (!target) return;
    revealed.add(prefix);
    target.scrollIntoView({ block: "start" });
    target.focus({ preventScroll: true });
  }

  ns.dom = { h, s, fill, append, byId, nextId, reveal, copyValue };

})((window.StatusPage = window.StatusPage || {}));
