// The report's sentence list: filters (also kept in the URL), paging, and hover highlighting.
(function () {
  var list = document.getElementById('list');
  if (!list) return;
  var PAGE = parseInt(document.getElementById('more').getAttribute('data-page'), 10);
  var cards = Array.prototype.slice.call(list.querySelectorAll('.card'));
  var data = cards.map(function (c) {
    return {el: c, ents: JSON.parse(c.getAttribute('data-ents')), kept: c.getAttribute('data-kept') === '1',
            text: c.getAttribute('data-text')};
  });
  var $ = function (id) { return document.getElementById(id); };
  var limit = PAGE;
  function num(id) { var v = $(id).value; return v === '' ? null : parseFloat(v); }
  function update() {
    var label = $('f-label').value, status = $('f-status').value, lo = num('f-min'), hi = num('f-max');
    var q = $('f-text').value.trim().toLowerCase();
    var entityCriteria = label || (status && status !== 'kept' && status !== 'dropped') || lo !== null || hi !== null;
    var shown = 0, matching = 0;
    data.forEach(function (d) {
      var ok = true;
      if (status === 'kept' && !d.kept) ok = false;
      if (status === 'dropped' && d.kept) ok = false;
      if (ok && entityCriteria) {
        ok = d.ents.some(function (e) {
          if (label && e[0] !== label) return false;
          if (status && status !== 'kept' && status !== 'dropped' && e[1] !== status) return false;
          if (lo !== null && !(e[2] !== null && e[2] >= lo)) return false;
          if (hi !== null && !(e[2] !== null && e[2] <= hi)) return false;
          return true;
        });
      }
      if (ok && q && d.text.indexOf(q) < 0) ok = false;
      if (ok) matching++;
      var visible = ok && matching <= limit;
      if (visible) shown++;
      d.el.style.display = visible ? '' : 'none';
    });
    $('count').textContent = matching.toLocaleString('en') + ' of ' + data.length.toLocaleString('en') +
      ' sentences' + (shown < matching ? ' (showing ' + shown.toLocaleString('en') + ')' : '');
    $('more').style.display = shown < matching ? '' : 'none';
  }
  // Filters live in the URL too (report.html#label=ORG&status=unaligned), so a view can be shared.
  var FIELDS = {label: 'f-label', status: 'f-status', min: 'f-min', max: 'f-max', text: 'f-text'};
  function fromHash() {
    var h = location.hash.slice(1);
    if (h.indexOf('=') < 0) return;
    h.split('&').forEach(function (kv) {
      var i = kv.indexOf('='), k = decodeURIComponent(kv.slice(0, i)), v = decodeURIComponent(kv.slice(i + 1));
      if (FIELDS[k]) $(FIELDS[k]).value = v;
    });
  }
  function toHash() {
    var parts = [];
    Object.keys(FIELDS).forEach(function (k) {
      var v = $(FIELDS[k]).value;
      if (v !== '') parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(v));
    });
    history.replaceState(null, '', parts.length ? '#' + parts.join('&') : location.pathname);
  }
  Object.keys(FIELDS).forEach(function (k) {
    $(FIELDS[k]).addEventListener('input', function () { limit = PAGE; update(); toHash(); });
  });
  fromHash();
  $('more').addEventListener('click', function () { limit += PAGE; update(); });
  function mark(ev, on) {
    var el = ev.target.closest && ev.target.closest('[data-ref]');
    if (!el) return;
    var card = el.closest('.card');
    if (!card) return;
    card.querySelectorAll('[data-ref="' + el.getAttribute('data-ref') + '"]').forEach(function (x) {
      x.classList.toggle('hl', on);
    });
  }
  document.addEventListener('mouseover', function (ev) { mark(ev, true); });
  document.addEventListener('mouseout', function (ev) { mark(ev, false); });
  update();
})();
