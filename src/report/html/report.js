// Draws hosts of a step when its row is opened, filters rows, reloads a live page, and
// leaves marks a test (or a person) can read: data-rendered on <body> when done, errors in
// #js-errors. Everything shown comes from textContent: no markup is built from data.
(function () {
  "use strict";
  var body = document.body;
  function fail(message) {
    var box = document.getElementById("js-errors");
    if (box) { box.hidden = false; box.textContent += message + "\n"; }
    body.setAttribute("data-js-error", "true");
  }
  window.addEventListener("error", function (e) { fail("script error: " + e.message); });
  try {
    var SVG = "http://www.w3.org/2000/svg";
    var node = document.getElementById("report-data");
    var data = node ? JSON.parse(node.textContent) : null;
    var fmt = function (ms) {
      var s = ms / 1000;
      if (s < 60) return (Math.round(s * 10) / 10) + "s";
      var m = Math.floor(s / 60);
      if (m < 60) return m + "m" + Math.round(s % 60) + "s";
      return Math.floor(m / 60) + "h" + (m % 60) + "m";
    };
    var drawHosts = function (row) {
      var box = row.querySelector(".hosts");
      if (!data || !box || box.getAttribute("data-drawn")) return;
      var hosts = data.steps[Number(row.getAttribute("data-index"))] || [];
      var span = Math.max(data.span, 1);
      hosts.forEach(function (host) {
        var line = document.createElement("div");
        line.className = "host-row";
        var label = document.createElement("span");
        label.className = "label";
        label.textContent = host[0];
        var svg = document.createElementNS(SVG, "svg");
        svg.setAttribute("viewBox", "0 0 1000 10");
        svg.setAttribute("preserveAspectRatio", "none");
        host[1].forEach(function (seg) {
          var r = document.createElementNS(SVG, "rect");
          var x = seg[1] * 1000 / span;
          r.setAttribute("class", "seg seg-" + data.kinds[seg[0]]);
          r.setAttribute("x", x.toFixed(1));
          r.setAttribute("y", "1");
          r.setAttribute("height", "8");
          r.setAttribute("width", Math.max((seg[2] - seg[1]) * 1000 / span, 0.8).toFixed(1));
          var title = document.createElementNS(SVG, "title");
          title.textContent = data.kinds[seg[0]] + ": +" + fmt(seg[1]) + " \u2192 +" + fmt(seg[2]);
          r.appendChild(title);
          svg.appendChild(r);
        });
        line.appendChild(label);
        line.appendChild(svg);
        box.appendChild(line);
      });
      box.setAttribute("data-drawn", String(hosts.length));
    };
    var rows = Array.prototype.slice.call(document.querySelectorAll("details.row"));
    rows.forEach(function (row) {
      row.addEventListener("toggle", function () { if (row.open) drawHosts(row); });
    });
    var wanted = /expand=([^&]+)/.exec(location.hash);
    if (wanted) {
      var id = decodeURIComponent(wanted[1]);
      rows.forEach(function (row) {
        if (row.getAttribute("data-step") === id || id === "*") { row.open = true; drawHosts(row); }
      });
    }
    var filter = document.getElementById("filter");
    if (filter) {
      filter.addEventListener("input", function () {
        var text = filter.value.toLowerCase();
        rows.forEach(function (row) {
          row.style.display = row.getAttribute("data-step").toLowerCase().indexOf(text) < 0 ? "none" : "";
        });
      });
    }
    var gantt = document.getElementById("gantt");
    if (gantt) {
      gantt.setAttribute("data-rows", String(rows.length));
      gantt.setAttribute("data-rows-with-bars", String(rows.filter(function (row) {
        return row.querySelector("rect.seg") !== null;
      }).length));
      gantt.setAttribute("data-critical-rows", String(rows.filter(function (row) {
        return row.getAttribute("data-critical") === "true";
      }).length));
    }
    // A live page reloads itself, unless someone is looking at a host list.
    var refresh = Number(body.getAttribute("data-refresh") || 0);
    if (refresh > 0) {
      setInterval(function () {
        if (!document.querySelector("details.row[open]")) location.reload();
      }, refresh * 1000);
    }
    // Whether the failure banner is on the first screen, for whoever checks the page at
    // a given width (a phone, a laptop).
    var banner = document.getElementById("banner");
    if (banner) {
      var box = banner.getBoundingClientRect();
      body.setAttribute("data-banner-on-first-screen",
        String(box.top >= 0 && box.bottom <= window.innerHeight && box.width <= window.innerWidth));
    }
    // Whether the page reads at this width: every step's status word inside the window,
    // axis labels apart, nothing running off the right edge.
    var inside = function (el) {
      var box = el.getBoundingClientRect();
      return box.width > 0 && box.left >= 0 && box.right <= window.innerWidth + 0.5;
    };
    var words = Array.prototype.slice.call(document.querySelectorAll("details.row .status-word"));
    body.setAttribute("data-status-words-inside", String(words.filter(inside).length) + "/" + String(words.length));
    var overlaps = 0;
    Array.prototype.slice.call(document.querySelectorAll(".axis-labels .ticks")).forEach(function (ticks) {
      var boxes = Array.prototype.slice.call(ticks.children)
        .map(function (label) { return label.getBoundingClientRect(); })
        .filter(function (box) { return box.width > 0; });
      for (var i = 1; i < boxes.length; i++) { if (boxes[i].left < boxes[i - 1].right) overlaps++; }
    });
    body.setAttribute("data-axis-label-overlaps", String(overlaps));
    body.setAttribute("data-overflows-right", String(document.documentElement.scrollWidth > window.innerWidth));
    body.setAttribute("data-rendered", "ok");
  } catch (e) {
    fail("report script failed: " + e);
  }
})();
