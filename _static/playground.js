/* The training playground (helpers/playground.py) without a kernel: when a radio button of a
 * .dlfa-pg panel changes, show that combination's precomputed view from the panel's JSON.
 * Pages without a playground: nothing happens. No request leaves the page. */
(() => {
  const start = () => {
    for (const pg of document.querySelectorAll(".dlfa-pg")) {
      const json = pg.querySelector("script.dlfa-pg-data");
      const view = pg.querySelector(".dlfa-pg-view");
      if (!json || !view) continue;
      const views = JSON.parse(json.textContent).views;
      const show = () => {
        const key = [...pg.querySelectorAll("fieldset")]
          .map((f) => (f.querySelector("input:checked") || {}).value).join("/");
        if (key === view.dataset.key || !(key in views)) return;
        view.querySelector(".dlfa-pg-summary").innerHTML = views[key][0];
        view.querySelector("g.dlfa-pg-data").innerHTML = views[key][1];
        view.dataset.key = key;
      };
      pg.addEventListener("change", show);
      show();  // the browser may restore checked radios on "back"
    }
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
