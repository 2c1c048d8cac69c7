/* Search page fixes over Sphinx 7.4's searchtools.js (loaded on search.html only, by _ext/site_search.py).
 * 1. Snippets come from window.DLFA_SEARCH_PAGES (search-pages.js: each page's article, math as
 *    plain text, outputs and scripts removed), not from fetch(): opened as files, fetch() of a
 *    page fails ("Failed to fetch") and results had no snippet; over HTTP the same text is used.
 * 2. Each page is listed once: the best-scoring hit of a page stands for it (the glossary used
 *    to appear once per matching term). */
(() => {
  const pages = window.DLFA_SEARCH_PAGES || {};
  const pageKey = (url) => {
    const path = new URL(url, document.baseURI).pathname;
    const root = new URL(document.documentElement.dataset.content_root || "./", document.baseURI).pathname;
    return decodeURIComponent(path.startsWith(root) ? path.slice(root.length) : path);
  };
  const originalFetch = window.fetch.bind(window);
  window.fetch = (resource, options) => {
    const url = typeof resource === "string" ? resource : resource && resource.url;
    const key = url ? pageKey(url) : null;
    if (key && Object.prototype.hasOwnProperty.call(pages, key))
      return Promise.resolve(new Response(pages[key], { headers: { "Content-Type": "text/html" } }));
    return originalFetch(resource, options);
  };
  const patch = () => {
    if (typeof Search === "undefined" || Search.dlfaPatched) return;
    Search.dlfaPatched = true;
    const perform = Search._performSearch;
    // results come sorted worst-first (the page pops from the end): keep each page's last entry.
    Search._performSearch = (...args) => {
      const results = perform(...args);
      const seen = new Set();
      const kept = [];
      for (let i = results.length - 1; i >= 0; i--) {
        if (seen.has(results[i][0])) continue;
        seen.add(results[i][0]);
        kept.push(results[i]);
      }
      return kept.reverse();
    };
    const toText = Search.htmlToText;
    Search.htmlToText = (html, anchor) => toText(html, anchor).replace(/\s+/g, " ").trim();
  };
  if (typeof Search !== "undefined") patch();
  else document.addEventListener("DOMContentLoaded", patch);
})();
