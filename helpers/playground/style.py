"""The playground's CSS, in one place: the static panel (book) and the live panel (JupyterLab) both embed it.

Colours are custom properties with a light and a dark set (the book's ``html[data-theme=dark]``,
JupyterLab's ``body[data-jp-theme-light=false]``); the panel paints its own background (in dark
mode the book's theme puts HTML outputs on a light card: not this one), and text colours keep a
contrast of at least 4.5:1 against it, lines at least 3:1 (WCAG 2.1, 1.4.3 and 1.4.11). Radio buttons are
drawn here, not by the browser, so the selected one is the filled disc in both modes.
Charts flow right to left, three a row on a laptop and one a row on a phone, so their text
is drawn at about its SVG size (at least 11 CSS pixels: see ``charts.py``).
"""

CSS = """
.dlfa-pg{--pg-text:#222;--pg-muted:#555;--pg-frame:#aaa;--pg-grid:#e6e6e6;
 --pg-page:var(--pst-color-background,var(--jp-layout-color0,#fff));
 --pg-accent:#1565c0;--pg-train:#1f77b4;--pg-test:#e86a00;--pg-lr:#2a9d2a;--pg-init:#8c8c8c;--pg-final:#1f77b4;
 --pg-chance:#888;--pg-bad:#c62828;--pg-warn:#8a6d00;margin:1em 0;color:var(--pg-text);background:var(--pg-page);
 color-scheme:light}
html[data-theme=dark] .dlfa-pg,body[data-jp-theme-light=false] .dlfa-pg{--pg-text:#e4e4e4;--pg-muted:#c4c4c4;
 --pg-frame:#777;--pg-grid:#3a3a3a;--pg-page:var(--pst-color-background,var(--jp-layout-color0,#121212));
 --pg-accent:#64b5f6;--pg-train:#5aa9e6;--pg-test:#ff9a3c;--pg-lr:#5cc75c;--pg-init:#a0a0a0;--pg-final:#5aa9e6;
 --pg-chance:#a0a0a0;--pg-bad:#ff7b7b;--pg-warn:#e0c050;color-scheme:dark}
html[data-theme=dark] .bd-content div.cell_output .text_html:has(.dlfa-pg){background:none;padding:0}
.dlfa-pg-controls{display:flex;flex-wrap:wrap;gap:.3em .8em;direction:rtl;text-align:right}
.dlfa-pg fieldset{border:1px solid var(--pg-frame);border-radius:.3em;padding:.1em .6em .3em;margin:0}
.dlfa-pg legend{font-size:.85em;font-weight:bold;width:auto;float:none;margin:0;padding:0 .3em;color:var(--pg-text)}
.dlfa-pg-controls label{display:inline-block;unicode-bidi:isolate;margin-inline-end:.7em;white-space:nowrap;cursor:pointer;
 font-size:.9em;color:var(--pg-text)}
.dlfa-pg-controls input[type=radio]{appearance:none;-webkit-appearance:none;box-sizing:border-box;width:1em;height:1em;
 margin:0;margin-inline-end:.3em;border:2px solid var(--pg-accent);border-radius:50%;background:transparent;
 vertical-align:-.15em;cursor:pointer}
.dlfa-pg-controls input[type=radio]:checked{background:var(--pg-accent);box-shadow:inset 0 0 0 2px var(--pg-page)}
.dlfa-pg-controls input[type=radio]:focus-visible{outline:2px solid var(--pg-accent);outline-offset:2px}
.dlfa-pg-fixed{font-size:.85em;color:var(--pg-muted);margin-top:.3em;direction:rtl;text-align:right}
.dlfa-pg-summary{font-size:.9em;direction:rtl;text-align:right;margin:.4em 0;color:var(--pg-text)}
.dlfa-pg-diverged{color:var(--pg-bad)}
.dlfa-pg-chance{color:var(--pg-warn)}
.dlfa-pg-charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,230px),1fr));gap:.6em 1em;
 direction:rtl;max-width:60em}
.dlfa-pg-chart{margin:0;min-width:0;display:flex;flex-direction:column;justify-content:flex-end}
.dlfa-pg-chart figcaption{direction:rtl;text-align:right;font-size:.85em;line-height:1.5;margin:0;padding:0;
 color:var(--pg-text)}
.dlfa-pg-title{font-weight:bold;margin-inline-end:.5em}
.dlfa-pg-keys{white-space:normal;color:var(--pg-muted)}
.dlfa-pg-key{white-space:nowrap;margin-inline-end:.6em}
.dlfa-pg-key::before{content:"";display:inline-block;width:1.5em;margin-inline-end:.25em;vertical-align:middle;
 border-top:2.5px solid var(--pg-train)}
.dlfa-pg-key.k-test::before{border-top:2.5px dashed var(--pg-test)}
.dlfa-pg-key.k-chance::before{border-top:2px dashed var(--pg-chance)}
.dlfa-pg-key.k-init::before{border-top-color:var(--pg-init)}
.dlfa-pg-key.k-final::before{border-top-color:var(--pg-final)}
.dlfa-pg svg{display:block;width:100%;height:auto;direction:ltr;font-family:inherit;overflow:visible}
.dlfa-pg svg .fr{fill:none;stroke:var(--pg-frame)}
.dlfa-pg svg .gr{stroke:var(--pg-grid)}
.dlfa-pg svg text{fill:var(--pg-muted);font-size:13px}
.dlfa-pg svg .yt{text-anchor:end}
.dlfa-pg svg .xt{text-anchor:middle}
.dlfa-pg svg .xl{text-anchor:middle;fill:var(--pg-text)}
.dlfa-pg svg .nt{text-anchor:middle;font-size:14px}
.dlfa-pg svg .dv{text-anchor:middle;font-size:16px;font-weight:bold;fill:var(--pg-bad);
 stroke:var(--pg-page);stroke-width:4px;paint-order:stroke;stroke-linejoin:round}
.dlfa-pg svg .dvl{stroke:var(--pg-bad);stroke-dasharray:3 3}
.dlfa-pg svg polyline{fill:none;stroke-width:1.8}
.dlfa-pg svg .s-train{stroke:var(--pg-train)}
.dlfa-pg svg .s-test{stroke:var(--pg-test);stroke-dasharray:4 3}
.dlfa-pg svg .s-chance{stroke:var(--pg-chance);stroke-dasharray:4 3;stroke-width:1.2}
.dlfa-pg svg .s-lr{stroke:var(--pg-lr)}
.dlfa-pg svg .s-init{stroke:var(--pg-init)}
.dlfa-pg svg .s-final{stroke:var(--pg-final)}
.dlfa-pg svg .p-init,.dlfa-pg svg .p-final{stroke-width:5;stroke-linecap:round;fill:none}
.dlfa-pg svg .p-init{stroke:var(--pg-init)}
.dlfa-pg svg .p-final{stroke:var(--pg-final)}
.dlfa-pg svg .h-init{fill:var(--pg-init);fill-opacity:.25;stroke:var(--pg-init)}
.dlfa-pg svg .h-final{fill:var(--pg-final);fill-opacity:.25;stroke:var(--pg-final)}
.dlfa-pg-live{direction:rtl}
.dlfa-pg-live .dlfa-pg-row{align-items:center}
.dlfa-pg-live .dlfa-pg-busy{color:var(--pg-muted);font-size:.9em}
""".strip()
