/* "Download source file" opened as files: Chromium ignores the `download` attribute of a
 * file:// link (each file is its own origin) and shows the notebook's raw JSON instead.
 * _ext/site_pages.py writes each downloadable source next to itself as "<file>.js", a script
 * that hands its text to dlfaSourceFile(); scripts load from file:// where fetch() cannot,
 * and a blob: link of the page's own origin downloads. Over HTTP the plain link downloads. */
(() => {
  if (location.protocol !== "file:") return;
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[download][href*='_sources/']");
    if (!link) return;
    event.preventDefault();
    const href = link.getAttribute("href");
    const name = decodeURIComponent(href.split(/[?#]/)[0].split("/").pop());
    const script = document.createElement("script");
    window.dlfaSourceFile = (text) => {
      const url = URL.createObjectURL(new Blob([text], { type: "application/octet-stream" }));
      const save = Object.assign(document.createElement("a"), { href: url, download: name });
      document.body.appendChild(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      script.remove();
    };
    script.src = href.split(/[?#]/)[0] + ".js";
    document.head.appendChild(script);
  });
})();
