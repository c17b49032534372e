# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The page layouts of the collection's HTML reports, as string.Template data.

Why string.Template in a Python file, not Jinja2 files: sglang_benchmark_report and
sglang_fleet_report are modules. They run delegated to localhost, but in the interpreter Ansible picks
for localhost (ansible_python_interpreter, interpreter discovery), which need not be the one
ansible-core and its jinja2 are installed in; and AnsiballZ ships a module's imported module_utils
Python files only, so a .j2 or .html file next to them would not be there when the module runs. The
stdlib's string.Template needs neither.

What is a template here: the page skeleton and the order of a page's sections, where the markup reads
better whole. What stays Python: the tables and the SVG plots (loops, coordinates, escaping), which
fill the placeholders. Every placeholder value is HTML already (escaped by the caller); substitute()
is used, so a missing value raises instead of leaving a `$name` in a page.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from string import Template

# The whole document: $title (escaped text), $css (the inline stylesheet), $body (HTML).
PAGE = Template("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>$title</title><style>$css</style></head><body>
$body
</body></html>
""")

# One Station's benchmark page (sglang_benchmark_report, <dest>/<station>/report.html).
BENCHMARK_STATION = Template("""<h1>SGLang benchmark: $host</h1>
<div class="meta">run $run &middot; generated $generated_at</div>
$verdict
<h2>Provenance</h2>
$provenance
$server_notes
<h2>Chat requests</h2>
<div class="meta">Latency of the chat (unstructured) requests; the structured-output requests are reported apart.</div>
$latency
$throughput
<h2>Structured output</h2>
$structured
<h2>Per turn</h2>
$per_turn
<h2>Plots</h2>
<div class="charts">$charts</div>""")

# The benchmark fleet page (sglang_benchmark_report, <dest>/fleet/report.html).
BENCHMARK_FLEET = Template("""<h1>SGLang benchmark fleet report</h1>
<div class="meta">run $run &middot; generated $generated_at &middot; $count Stations</div>
$verdict
<h2>Stations</h2>
$stations
$footnote
<h2>Provenance</h2>
$provenance
<h2>Structured output</h2>
$structured
$server_notes
<h2>Plots (one line per Station)</h2>
<div class="charts">$charts</div>
$per_turn""")
