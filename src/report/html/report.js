// Draws the ladders from the JSON the page carries, filters the tunnel table and marks a
// finding's frames. Every string from the capture is set as text (textContent, SVG <title>),
// never as markup. With #selftest in the address, the page checks itself and writes the result
// into #selftest-result (the browser test reads it with chromium --dump-dom).
(function () {
  'use strict';
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message)); });
  var consoleError = console.error;
  console.error = function () {
    errors.push(Array.prototype.join.call(arguments, ' '));
    consoleError.apply(console, arguments);
  };

  var D = JSON.parse(document.getElementById('data').textContent);
  var SVG = 'http://www.w3.org/2000/svg';
  var drawn = {};

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function sv(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function secs(x) {
    if (x < 1) { return (x * 1000).toFixed(1) + ' ms'; }
    if (x < 120) { return x.toFixed(3) + ' s'; }
    if (x < 7200) { return (x / 60).toFixed(1) + ' min'; }
    return (x / 3600).toFixed(1) + ' h';
  }

  // Time runs down. Each arrow gets a row; the gap to the next grows with the time between
  // them, so bursts stay readable and long waits show. The same mapping places the ESP bars,
  // keepalives and gaps, so all share one time axis.
  function timeAxis(l, arrows) {
    var t0 = l.first_ts, t1 = l.last_ts;
    var anchors = [[t0, 40]];
    var y = 40;
    var prev = t0;
    arrows.forEach(function (a) {
      var dt = Math.max(0, a.t - prev);
      y += a.sep ? 44 : 0;
      y += Math.max(a === arrows[0] && dt === 0 ? 26 : 46, Math.min(120, 46 + 18 * Math.log10(1 + dt * 4)));
      a.y = y;
      anchors.push([a.t, y]);
      prev = a.t;
    });
    var end = y + (t1 > prev ? Math.min(160, 40 + 20 * Math.log10(1 + (t1 - prev))) : 30);
    anchors.push([Math.max(t1, prev), end]);
    function Y(t) {
      if (t <= anchors[0][0]) { return anchors[0][1]; }
      for (var i = 1; i < anchors.length; i++) {
        var p = anchors[i - 1], q = anchors[i];
        if (t <= q[0]) {
          return q[0] === p[0] ? q[1] : p[1] + (q[1] - p[1]) * (t - p[0]) / (q[0] - p[0]);
        }
      }
      return end;
    }
    return { Y: Y, height: end + 30, t0: t0 };
  }

  function drawLadder(i) {
    if (drawn[i]) { return drawn[i]; }
    var l = D.ladders[i];
    var box = document.getElementById('ladder-' + i);
    var arrows = l.head.slice();
    if (l.omitted > 0 && l.tail.length) { l.tail[0].sep = true; }
    arrows = arrows.concat(l.tail);
    var ax = timeAxis(l, arrows);
    var third = l.routers.length > 0;
    var X = [200, 600, 840];
    var espX = third ? 960 : 720;
    var width = espX + 190;
    var s = sv('svg', { 'class': 'ladder', width: width, height: ax.height, viewBox: '0 0 ' + width + ' ' + ax.height });
    s.appendChild(sv('text', { x: X[0], y: 16, 'text-anchor': 'middle', 'class': 'lanehead' }, l.peers[0]));
    s.appendChild(sv('text', { x: X[1], y: 16, 'text-anchor': 'middle', 'class': 'lanehead' }, l.peers[1]));
    var lanes = third ? 3 : 2;
    if (third) {
      s.appendChild(sv('text', { x: X[2], y: 16, 'text-anchor': 'middle', 'class': 'lanehead' }, 'router ' + l.routers.join(', ')));
    }
    for (var k = 0; k < lanes; k++) {
      s.appendChild(sv('line', { x1: X[k], y1: 24, x2: X[k], y2: ax.height - 20, 'class': 'lane' }));
    }
    arrows.forEach(function (a) {
      if (a.sep) {
        var names = l.omitted_kinds.map(function (k) { return k[0] + ' ×' + k[1]; }).join(', ');
        s.appendChild(sv('text', { x: (X[0] + X[1]) / 2, y: a.y - 30, 'text-anchor': 'middle', 'class': 'omitted' },
          '… ' + l.omitted + ' messages left out: ' + names + ' …'));
      }
      var cls = ['arrow', a.k];
      if (a.response) { cls.push('response'); }
      if (a.tx > 1) { cls.push('retrans'); }
      if (a.unanswered) { cls.push('unanswered'); }
      if (a.error) { cls.push('error'); }
      var g = sv('g', { 'class': cls.join(' '), 'data-frame': a.f, 'data-kind': a.k, 'data-tx': a.tx });
      var x1 = X[a.from], x2 = X[a.to], y1 = a.y - 6, y2 = a.y + 6;
      var dir = x2 > x1 ? 1 : -1;
      g.appendChild(sv('title', {}, a.line));
      g.appendChild(sv('line', { x1: x1, y1: y1, x2: x2 - dir * 8, y2: y2 }));
      g.appendChild(sv('line', { x1: x1, y1: y1, x2: x2, y2: y2, 'class': 'hit' }));
      g.appendChild(sv('polygon', { points: [x2, y2, x2 - dir * 10, y2 - 5, x2 - dir * 10, y2 + 5].join(' ') }));
      var mid = (x1 + x2) / 2;
      var label = a.label;
      if (a.tx > 1) { label += ' · retransmission ' + a.tx + (a.interval !== undefined ? ' (+' + secs(a.interval) + ')' : ''); }
      g.appendChild(sv('text', { x: mid, y: a.y - 10, 'text-anchor': 'middle', 'class': 'lbl' }, label));
      if (a.payloads) {
        var p = a.payloads.length > 90 ? a.payloads.slice(0, 89) + '…' : a.payloads;
        g.appendChild(sv('text', { x: mid, y: a.y + 18, 'text-anchor': 'middle', 'class': 'pl' }, p));
      }
      var badges = [];
      if (a.frag === 'ip incomplete') { badges.push('IP fragments lost'); } else if (a.frag) { badges.push(a.frag.replace('ip', 'IP fragments ×').replace('ike', 'IKE fragments ×')); }
      if (a.float) { badges.push('NAT-T float → 4500'); } else if (a.natt) { badges.push('UDP 4500'); }
      if (badges.length) {
        g.appendChild(sv('text', { x: x1 + (dir > 0 ? 6 : -6), y: a.y + 18, 'text-anchor': dir > 0 ? 'start' : 'end', 'class': 'badge' }, badges.join(' · ')));
      }
      if (a.unanswered) {
        g.appendChild(sv('text', { x: x2 + dir * 6, y: y2 + 4, 'text-anchor': dir > 0 ? 'start' : 'end', 'class': 'mark' }, '✗ no answer'));
      } else if (a.error) {
        g.appendChild(sv('text', { x: x2 + dir * 6, y: y2 + 4, 'text-anchor': dir > 0 ? 'start' : 'end', 'class': 'mark' }, '!'));
      }
      s.appendChild(sv('text', { x: 4, y: a.y + 4, 'class': 'tlabel' }, '+' + secs(a.t - ax.t0) + '  #' + a.f));
      g.addEventListener('mouseenter', function () { document.getElementById('status').textContent = a.line; });
      s.appendChild(g);
    });
    // NAT-T keepalives: dots on the sender's lane.
    [0, 1].forEach(function (d) {
      l.keepalives[d].times.forEach(function (t) {
        var c = sv('circle', { cx: X[d], cy: ax.Y(t), r: 3, 'class': 'ka' });
        c.appendChild(sv('title', {}, 'NAT-T keepalive from ' + l.peers[d]));
        s.appendChild(c);
      });
    });
    // The ESP data plane, one column per direction.
    var maxRate = 0;
    l.esp.forEach(function (e) { e.counts.forEach(function (c) { maxRate = Math.max(maxRate, c / e.width); }); });
    [0, 1].forEach(function (d) {
      var e = l.esp[d];
      var x = espX + d * 95;
      s.appendChild(sv('text', { x: x, y: 16, 'class': 'lanehead' }, 'ESP ' + (d === 0 ? 'a→b' : 'b→a')));
      s.appendChild(sv('line', { x1: x, y1: 24, x2: x, y2: ax.height - 20, 'class': 'lane' }));
      if (!e.packets) {
        s.appendChild(sv('text', { x: x + 4, y: 36, 'class': 'tlabel' }, 'no ESP'));
        return;
      }
      s.appendChild(sv('text', { x: x + 4, y: 30, 'class': 'tlabel' }, e.packets + ' pkts'));
      e.counts.forEach(function (c, b) {
        if (!c) { return; }
        var ta = e.origin + b * e.width;
        var ya = ax.Y(ta), yb = ax.Y(ta + e.width);
        var r = sv('rect', { x: x, y: ya, width: Math.max(1, 80 * (c / e.width) / maxRate), height: Math.max(1, yb - ya), 'class': 'esp' });
        r.appendChild(sv('title', {}, (c / e.width).toFixed(1) + ' pkt/s'));
        s.appendChild(r);
      });
      var yl = ax.Y(e.last);
      s.appendChild(sv('line', { x1: x - 4, y1: yl, x2: x + 84, y2: yl, 'class': 'espstop' }));
      s.appendChild(sv('text', { x: x + 2, y: yl + 12, 'class': 'tlabel' }, 'last #' + e.last_frame));
      e.gaps.forEach(function (g) {
        var yg = ax.Y(g[0]);
        var m = sv('line', { x1: x - 8, y1: yg, x2: x, y2: yg, 'class': 'gap' });
        m.appendChild(sv('title', {}, g[2] + ' sequence numbers missing before frame ' + g[1]));
        s.appendChild(m);
      });
    });
    box.textContent = '';
    box.appendChild(s);
    var det = el('details', {});
    det.appendChild(el('summary', {}, 'packet lines'));
    det.appendChild(el('pre', { 'class': 'lines' }, arrows.map(function (a) { return a.line; }).join('\n')));
    box.appendChild(det);
    drawn[i] = s;
    return s;
  }

  var list = document.getElementById('ladder-list');
  var atLoad = D.ladders.length <= D.draw_at_load;
  D.ladders.forEach(function (l, i) {
    var sec = el('section', { 'class': 'tunnel', id: 't' + i });
    var head = l.peers[0] + ' ↔ ' + l.peers[1] + (D.heads[i] ? ' · ' + D.heads[i] : '');
    sec.appendChild(el('h3', {}, head));
    var n = l.head.length + l.tail.length + l.omitted;
    sec.appendChild(el('p', { 'class': 'note' }, n + ' IKE/ICMP messages' + (l.omitted ? ' (' + l.omitted + ' in the middle left out)' : '') +
      ', ESP ' + l.esp[0].packets + ' a→b, ' + l.esp[1].packets + ' b→a' +
      (l.keepalives[0].count + l.keepalives[1].count ? ', ' + (l.keepalives[0].count + l.keepalives[1].count) + ' NAT-T keepalives' : '')));
    var box = el('div', { id: 'ladder-' + i });
    if (!atLoad) {
      var b = el('button', { 'class': 'draw', type: 'button' }, 'draw the ladder');
      b.addEventListener('click', function () { drawLadder(i); });
      box.appendChild(b);
    }
    sec.appendChild(box);
    list.appendChild(sec);
    if (atLoad) { drawLadder(i); }
  });

  document.querySelectorAll('a[data-ladder]').forEach(function (a) {
    a.addEventListener('click', function () { drawLadder(Number(a.getAttribute('data-ladder'))); });
  });

  // A finding's frames, marked on its tunnel's ladder.
  function highlight(li) {
    document.querySelectorAll('.finding.active').forEach(function (x) { x.classList.remove('active'); });
    document.querySelectorAll('g.arrow.hl').forEach(function (x) { x.classList.remove('hl'); });
    li.classList.add('active');
    var at = li.getAttribute('data-ladder');
    if (at === '') { return []; }
    var s = drawLadder(Number(at));
    var frames = {};
    li.getAttribute('data-frames').split(' ').forEach(function (f) { if (f) { frames[f] = true; } });
    var hit = [];
    s.querySelectorAll('g.arrow').forEach(function (g) {
      var f = g.getAttribute('data-frame');
      if (frames[f]) { g.classList.add('hl'); hit.push(Number(f)); }
    });
    var first = s.querySelector('g.arrow.hl');
    if (first && first.scrollIntoView) { first.scrollIntoView({ block: 'center' }); }
    return hit;
  }
  document.querySelectorAll('li.finding').forEach(function (li) {
    li.addEventListener('click', function () { highlight(li); });
    li.addEventListener('keydown', function (e) { if (e.key === 'Enter') { highlight(li); } });
  });

  var filter = document.getElementById('filter');
  filter.addEventListener('input', function () {
    var q = filter.value.toLowerCase();
    document.querySelectorAll('#tunnel-table tbody tr').forEach(function (tr) {
      tr.hidden = q !== '' && tr.textContent.toLowerCase().indexOf(q) < 0;
    });
  });

  if (location.hash === '#selftest') {
    var r = { errors: errors, injected: window.__pwned === undefined ? null : String(window.__pwned), ladders: [], clicks: [], filter: null };
    D.ladders.forEach(function (l, i) {
      var s = drawLadder(i);
      var count = function (q) { return s.querySelectorAll(q).length; };
      r.ladders.push({
        peers: l.peers,
        ike: count('g.arrow[data-kind="ike"]'),
        omitted: l.omitted,
        retrans: count('g.arrow.ike.retrans'),
        unanswered: count('g.arrow.unanswered'),
        error: count('g.arrow.error'),
        icmp: count('g.arrow[data-kind="icmp"]'),
        routers: l.routers.length,
        frames: Array.prototype.map.call(s.querySelectorAll('g.arrow'), function (g) { return Number(g.getAttribute('data-frame')); })
      });
    });
    document.querySelectorAll('li.finding').forEach(function (li) {
      li.dispatchEvent(new MouseEvent('click', { bubbles: true }));
      r.clicks.push({
        id: li.getAttribute('data-id'),
        frames: li.getAttribute('data-frames').split(' ').filter(Boolean).map(Number),
        highlighted: Array.prototype.map.call(document.querySelectorAll('g.arrow.hl'), function (g) { return Number(g.getAttribute('data-frame')); }),
        active: li.classList.contains('active')
      });
    });
    var rows = document.querySelectorAll('#tunnel-table tbody tr');
    if (rows.length) {
      filter.value = 'no-such-tunnel-anywhere';
      filter.dispatchEvent(new Event('input'));
      var hidden = document.querySelectorAll('#tunnel-table tbody tr[hidden]').length;
      filter.value = '';
      filter.dispatchEvent(new Event('input'));
      r.filter = { rows: rows.length, hidden: hidden };
    }
    var out = document.getElementById('selftest-result');
    out.textContent = JSON.stringify(r);
    out.hidden = false;
  }
})();
