/* Monthly trend charts (ECharts, vendored with the diagnostics pages): one small chart per indicator, the target as
   a dashed line. Each chart node carries data-code; the data comes from assessment:trend_data. */
(function () {
  "use strict";
  function draw(root) {
    if (!window.echarts) { return; }
    var nodes = root.querySelectorAll("[data-trend]");
    if (!nodes.length) { return; }
    var url = root.dataset.src;
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
      var font = getComputedStyle(document.body).fontFamily;
      data.series.forEach(function (s) {
        var node = root.querySelector('[data-trend="' + s.code + '"]');
        if (!node) { return; }
        var chart = window.echarts.init(node, null, { renderer: "svg" });
        var unit = s.percent ? "%" : s.unit;
        var line = { name: s.name, type: "line", data: s.values, connectNulls: false, symbolSize: 5,
                     itemStyle: { color: "#0f6f8f" }, areaStyle: { color: "rgba(15,111,143,.08)" } };
        if (s.target !== null) {
          line.markLine = { silent: true, symbol: "none", lineStyle: { color: "#b42318", type: "dashed" },
                            data: [{ yAxis: s.target }], label: { formatter: "目标 " + s.target + unit, position: "insideEndTop" } };
        }
        chart.setOption({
          animation: false, textStyle: { fontFamily: font },
          title: { text: s.name, subtext: s.name_en, left: 8, top: 4, textStyle: { fontSize: 13 }, subtextStyle: { fontSize: 10 } },
          tooltip: { trigger: "axis", valueFormatter: function (v) { return v === null || v === undefined ? "—" : v + unit; } },
          grid: { left: 48, right: 18, top: 52, bottom: 24 },
          xAxis: { type: "category", data: s.months, axisLabel: { fontSize: 10 } },
          yAxis: { type: "value", scale: true, axisLabel: { formatter: "{value}" + (s.percent ? "%" : "") } },
          series: [line]
        });
        node.dataset.ready = "1";
        window.addEventListener("resize", function () { chart.resize(); });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-trends]").forEach(draw);
  });
})();
