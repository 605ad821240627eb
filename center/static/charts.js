// The dashboard's charts with the vendored Apache ECharts (center/static/vendor/echarts/),
// no inline script (see center/web/headers.py). A page marks each chart with
//   <div class="hall-chart" data-kind="trend|distribution|ranking" data-src="ID"></div>
// and puts its data in <script type="application/json" id="ID">…</script>
// (center/charts.py builds it). The tables beside the charts hold the same numbers.
(function () {
  "use strict";
  var FONT = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif';
  var GOOD = "#2e7d32", BAD = "#c62828", VOLUME = "#b0bec5";
  var RATING_COLORS = {
    "非常满意": "#1b5e20", "满意": "#43a047", "基本满意": "#9ccc65", "不满意": "#e53935",
    "非常不满意": "#b71c1c", "未评价": "#b0bec5", "申诉成立（不计分）": "#ffb74d"
  };

  // a tooltip formatter's text is HTML: names come from tablets and the directory
  function html(text) { return echarts.format.encodeHTML(String(text)); }

  function percent(v) { return v === null || v === undefined ? "—" : v.toFixed(1) + "%"; }

  function empty(text) {
    return { type: "text", left: "center", top: "middle", silent: true,
             style: { text: text, fill: "#999", font: "14px " + FONT } };
  }

  function trend(d) {
    var rated = d.rated.reduce(function (a, b) { return a + b; }, 0);
    var rate = { valueFormatter: percent };
    // a day or two with ratings (a new hall): each point says its rate
    var sparse = d.good_rate.filter(function (v) { return v !== null; }).length <= 2;
    function pointLabel(position) {
      return { show: sparse, position: position, fontSize: 11,
               formatter: function (p) { return percent(p.value); } };
    }
    return {
      textStyle: { fontFamily: FONT },
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: ["好评率", "差评率", "评价数"] },
      grid: { left: 52, right: 56, top: 40, bottom: 32 },
      xAxis: { type: "category", data: d.labels, axisTick: { alignWithLabel: true },
               axisLabel: { hideOverlap: true } },
      yAxis: [
        { type: "value", name: "比率", min: 0, max: 100, interval: 25,
          axisLabel: { formatter: "{value}%" } },
        { type: "value", name: "评价数", minInterval: 1, splitLine: { show: false } }
      ],
      series: [
        { name: "评价数", type: "bar", yAxisIndex: 1, data: d.rated, barMaxWidth: 14,
          itemStyle: { color: VOLUME }, z: 1 },
        // a day without scored evaluations has no point; the line joins the days that have
        { name: "好评率", type: "line", data: d.good_rate, connectNulls: true, showSymbol: true,
          symbolSize: 7, itemStyle: { color: GOOD }, lineStyle: { width: 2 }, tooltip: rate, z: 3,
          label: pointLabel("top"), labelLayout: { hideOverlap: true } },
        { name: "差评率", type: "line", data: d.bad_rate, connectNulls: true, showSymbol: true,
          symbolSize: 7, itemStyle: { color: BAD }, lineStyle: { width: 2 }, tooltip: rate, z: 3,
          label: pointLabel("right"), labelLayout: { hideOverlap: true } }
      ],
      graphic: rated ? [] : [empty("该时段没有评价")]
    };
  }

  function distribution(d) {
    var shown = d.items.filter(function (i) { return i.value > 0; });
    var share = {};
    shown.forEach(function (i) { share[i.name] = i.value + " 条（" + (100 * i.value / d.total).toFixed(1) + "%）"; });
    return {
      textStyle: { fontFamily: FONT },
      animation: false,
      tooltip: { trigger: "item", formatter: function (p) { return html(p.name + "：" + share[p.name]); } },
      // the counts are in the legend: labels around a ring with small slices collide
      legend: { bottom: 0, left: "center", itemGap: 12,
                formatter: function (name) { return name + " " + share[name]; } },
      series: [{
        name: "评价分布", type: "pie", radius: ["30%", "54%"], center: ["50%", "38%"],
        label: { show: false }, labelLine: { show: false },
        data: shown.map(function (i) {
          return { name: i.name, value: i.value, itemStyle: { color: RATING_COLORS[i.name] } };
        })
      }],
      graphic: d.total ? [] : [empty("该时段没有评价记录")]
    };
  }

  function ranking(d, el) {
    var n = d.units.length;
    el.style.height = Math.max(160, 28 * n + 70) + "px";     // CSSOM, allowed by the CSP
    var labels = d.units.map(function (u, i) { return "第" + d.ranks[i] + "名 " + u; });
    return {
      textStyle: { fontFamily: FONT },
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" },
                 formatter: function (p) {
                   var i = p[0].dataIndex;
                   return html(labels[i]) + "<br>好评率 " + percent(d.good_rate[i]) + "（计分评价 " + d.scored[i] + "）";
                 } },
      grid: { left: 8, right: 64, top: 24, bottom: 24, containLabel: true },
      xAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      yAxis: { type: "category", data: labels, inverse: true,
               axisLabel: { width: 220, overflow: "truncate" } },
      series: [{ name: "好评率", type: "bar", data: d.good_rate, barMaxWidth: 18,
                 itemStyle: { color: GOOD },
                 label: { show: true, position: "right", formatter: function (p) { return percent(p.value); } } }],
      graphic: n ? [] : [empty("该时段没有可排名的单位")]
    };
  }

  var KINDS = { trend: trend, distribution: distribution, ranking: ranking };
  var charts = [];

  function draw(el) {
    var src = document.getElementById(el.dataset.src), make = KINDS[el.dataset.kind];
    if (!src || !make || typeof echarts === "undefined") { return; }
    var chart = echarts.init(el, null, { renderer: "svg", locale: "ZH" });
    chart.setOption(make(JSON.parse(src.textContent), el));
    chart.resize();
    charts.push(chart);
    el.dataset.rendered = "1";
  }

  document.querySelectorAll(".hall-chart").forEach(draw);
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  window.addEventListener("beforeprint", function () { charts.forEach(function (c) { c.resize(); }); });
})();
